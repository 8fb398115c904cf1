"""Soak: N jobs through real ComfyUI servers with the pack's batch client; memory, files and time per job.

    COMFYUI_ROOT=/path/to/ComfyUI COMFYUI_PYTHON=/path/to/its/python python bench/soak.py --jobs 100

Starts `--servers` ComfyUI processes (loopback only, each with its own input/output folders and this pack),
makes 2-5 s speech clips cut from samples/speech.wav and several portraits (samples/portrait.png, its mirror
image and, where ../shared/data/faces exists, a few gallery faces: read there, written only under --workdir),
and runs one job per (portrait, clip, random seed) with `modit_app.batch.run_batch`, no retries. Reports:
jobs succeeded, each server's RSS after job 10 and after the last job (sampled when that server has just
finished a job and is idle), files written (one per job, all distinct, no partial or empty file on either
side), and wall seconds per job. Exits 1 if a job failed, RSS grew more than --max-growth, or a file check
failed. Servers run with OMP_NUM_THREADS=1 unless the caller's environment sets it.
"""
import argparse
import hashlib
import importlib.util
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import wave

from _pack import PACK_ROOT as ROOT, load_pack

load_pack()
from comfyui_modit.modit.timing import frames_for_samples  # noqa: E402
from comfyui_modit.modit_app.batch.run import run_batch, summary_table  # noqa: E402
from comfyui_modit.modit_app.batch.jobs import Job  # noqa: E402

GALLERY = os.path.join(os.path.dirname(ROOT), "shared", "data", "faces")
# Small gallery portraits (400-512 px, one clear face each) so face analysis stays a small part of a job.
GALLERY_FACES = ("boy_south_asian_closed_lips.jpg", "tilted_woman_hoop_earring.jpg", "glasses_side_light_man.jpg",
                 "bw_elderly_moustache_man.png")
WORKFLOWS = {"basic": "modit_basic.json", "streaming": "modit_long_audio_to_file.json"}
RENDER_NODES = ("MoDiTFlowRender", "MoDiTRenderToVideo")


def _load_server_module():
    path = os.path.join(ROOT, "tests", "integration", "comfyui_server.py")
    spec = importlib.util.spec_from_file_location("modit_comfyui_server", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_portraits(folder: str, gallery: str = GALLERY) -> list[str]:
    """samples/portrait.png, its mirror image, and the gallery faces that exist; paths under folder."""
    from PIL import Image, ImageOps

    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, "portrait.png"), os.path.join(folder, "portrait_mirrored.png")]
    shutil.copy(os.path.join(ROOT, "samples", "portrait.png"), paths[0])
    ImageOps.mirror(Image.open(paths[0]).convert("RGB")).save(paths[1])
    for name in GALLERY_FACES:
        source = os.path.join(gallery, name)
        if os.path.isfile(source):
            paths.append(os.path.join(folder, "gallery_" + os.path.splitext(name)[0] + ".png"))
            Image.open(source).convert("RGB").save(paths[-1])
    return paths


def make_clips(folder: str, count: int, rng: random.Random, shortest: float = 2.0, longest: float = 5.0) -> list[str]:
    """`count` clips of shortest..longest seconds cut at random places from samples/speech.wav (16-bit wav)."""
    os.makedirs(folder, exist_ok=True)
    with wave.open(os.path.join(ROOT, "samples", "speech.wav")) as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    width = params.sampwidth * params.nchannels
    total = len(frames) // width
    paths = []
    for i in range(count):
        length = int(rng.uniform(shortest, longest) * params.framerate)
        start = rng.randrange(0, total - length)
        path = os.path.join(folder, f"speech_{i:02d}.wav")
        with wave.open(path, "wb") as clip:
            clip.setparams(params)
            clip.writeframes(frames[start * width:(start + length) * width])
        paths.append(path)
    return paths


def clip_frames(path: str, fps: float = 25.0) -> int:
    with wave.open(path) as clip:
        return frames_for_samples(clip.getnframes(), clip.getframerate(), fps)


def make_template(workflow: str, size: int) -> dict:
    with open(os.path.join(ROOT, "workflows", "api", WORKFLOWS[workflow])) as f:
        template = json.load(f)
    for node in template.values():
        if node["class_type"] in RENDER_NODES:
            node["inputs"]["output_size"] = str(size)
    return template


class RssRecorder:
    """Each server's RSS, sampled by the worker that just finished a job there (the server is idle then)."""

    def __init__(self, servers: dict):
        self.servers = servers  # url -> ComfyServer
        self.samples = {url: [] for url in servers}  # url -> [(jobs finished overall, MiB)]
        self.finished = 0
        self.lock = threading.Lock()

    def __call__(self, result):
        with self.lock:
            self.finished += 1
            count = self.finished
        server = self.servers.get(result.server)
        if server is not None and server.process.poll() is None:
            self.samples[result.server].append((count, server.rss_mib()))

    def trend(self, after_job: int = 10, window: int = 10) -> dict:
        """url -> (mean of the first `window` samples from job `after_job` on, mean of the last `window`, ratio):
        the same comparison with the job-to-job wobble (the last prompt's cached outputs) averaged out."""
        report = {}
        for url, samples in self.samples.items():
            later = [mib for count, mib in samples if count >= after_job]
            if len(later) >= 2 * window:
                first, last = sum(later[:window]) / window, sum(later[-window:]) / window
                report[url] = (first, last, last / first - 1.0)
        return report

    def growth(self, after_job: int = 10) -> dict:
        """url -> (MiB at the first sample at or after job `after_job`, MiB at the last sample, growth ratio)."""
        report = {}
        for url, samples in self.samples.items():
            later = [mib for count, mib in samples if count >= after_job]
            if len(later) >= 1:
                report[url] = (later[0], later[-1], later[-1] / later[0] - 1.0)
        return report


def probe_frames(path: str) -> int:
    import av

    with av.open(path) as container:
        return sum(1 for _ in container.decode(video=0))


def check_files(jobs: list, results: dict, out_dir: str, server_outputs: list[str], expected_frames: dict) -> list[str]:
    """Problems with the written files (empty list when all is well)."""
    problems = []
    downloaded = sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []
    if len(downloaded) != len(jobs):
        problems.append(f"{len(downloaded)} files downloaded for {len(jobs)} jobs")
    server_files = []
    for folder in server_outputs:
        for dirpath, _, filenames in os.walk(folder):
            server_files += [os.path.join(dirpath, name) for name in filenames]
    videos = [p for p in server_files if p.endswith(".mp4")]
    others = [p for p in server_files if not p.endswith(".mp4")]
    if others:
        problems.append(f"non-mp4 files left in the servers' output folders: {others[:5]}")
    if len(videos) != len(jobs):
        problems.append(f"{len(videos)} mp4s in the servers' output folders for {len(jobs)} jobs")
    empty = [p for p in videos + [os.path.join(out_dir, n) for n in downloaded] if os.path.getsize(p) == 0]
    if empty:
        problems.append(f"empty files: {empty[:5]}")

    def digest(path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    server_digests = {digest(p) for p in videos}
    local_digests = {digest(os.path.join(out_dir, n)) for n in downloaded}
    if len(server_digests) != len(videos) or local_digests != server_digests:
        problems.append("the downloaded files are not one distinct copy of each server output (an overwrite?)")
    for job in jobs:
        result = results[job.name]
        for path in result.files:
            frames = probe_frames(path)
            if frames != expected_frames[job.name]:
                problems.append(f"{os.path.basename(path)}: {frames} frames, expected {expected_frames[job.name]}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--size", type=int, default=256, help="output_size of the render node (longest side)")
    parser.add_argument("--workflow", choices=sorted(WORKFLOWS), default="basic")
    parser.add_argument("--clips", type=int, default=8, help="distinct speech clips to cut")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--max-growth", type=float, default=0.05, help="allowed RSS growth, job --rss-from to the last")
    parser.add_argument("--rss-from", type=int, default=10, help="the job after which RSS is the baseline")
    parser.add_argument("--workdir", help="where servers, inputs and outputs go (default: a new temp folder)")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep --workdir afterwards")
    args = parser.parse_args(argv)

    root, python = os.environ.get("COMFYUI_ROOT"), os.environ.get("COMFYUI_PYTHON")
    if not root or not python:
        parser.error("set COMFYUI_ROOT (a ComfyUI 0.27 checkout) and COMFYUI_PYTHON (its Python)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    workdir = args.workdir or tempfile.mkdtemp(prefix="modit-soak-")
    os.makedirs(workdir, exist_ok=True)
    rng = random.Random(args.seed)
    portraits = make_portraits(os.path.join(workdir, "inputs"))
    clips = make_clips(os.path.join(workdir, "inputs"), args.clips, rng)
    jobs = []
    for i in range(args.jobs):
        image, audio = rng.choice(portraits), rng.choice(clips)
        jobs.append(Job(f"job{i:03d}", image, audio, rng.randrange(2**31)))
    expected = {job.name: clip_frames(job.audio) for job in jobs}
    template = make_template(args.workflow, args.size)
    print(f"soak: {args.jobs} jobs, {args.servers} servers, workflow {args.workflow} at {args.size} px, "
          f"{len(portraits)} portraits, {len(clips)} clips of "
          f"{min(expected.values()) / 25:.1f}-{max(expected.values()) / 25:.1f} s; workdir {workdir}", flush=True)

    comfy = _load_server_module()
    servers = []
    try:
        started = time.time()
        servers = [comfy.ComfyServer(root, python, os.path.join(workdir, f"server{i}")) for i in range(args.servers)]
        starting = [threading.Thread(target=server.__enter__) for server in servers]  # start-up in parallel
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        for server in servers:
            if not server.alive():
                raise RuntimeError(f"server {server.url} did not start:\n{server.log()[-3000:]}")
        print(f"servers up in {time.time() - started:.0f} s: {', '.join(s.url for s in servers)}", flush=True)
        rss = RssRecorder({s.url: s for s in servers})
        out_dir = os.path.join(workdir, "downloads")
        started = time.time()
        batch = run_batch(template, jobs, [s.url for s in servers], out_dir, retries=0, per_server=1,
                          on_finished=rss)
        wall = time.time() - started
        print(summary_table(list(batch.results.values()), batch.events), flush=True)
        results = batch.results
        done = sum(r.status == "done" for r in results.values())
        problems = check_files(jobs, results, out_dir, [s.output_dir for s in servers], expected)
        growth = rss.growth(args.rss_from)
        seconds = sorted(r.seconds for r in results.values() if r.status == "done")
        video_seconds = sum(expected[j.name] for j in jobs) / 25.0
        alive = all(s.alive() for s in servers)
    finally:
        for server in servers:
            if server.process is not None:
                server.__exit__(None, None, None)

    figures = {
        "jobs": args.jobs, "succeeded": done, "servers": args.servers, "workflow": args.workflow, "size": args.size,
        "wall_s": wall, "wall_s_per_job": wall / args.jobs, "video_s": video_seconds,
        "job_s_median": statistics.median(seconds) if seconds else None,
        "job_s_p90": seconds[int(0.9 * (len(seconds) - 1))] if seconds else None,
        "job_s_max": seconds[-1] if seconds else None,
        "rss_from_job": args.rss_from, "rss_mib": {url: {"baseline": a, "last": b, "growth": g} for url, (a, b, g) in growth.items()},
        "rss_trend_mib": {url: {"first_10_mean": a, "last_10_mean": b, "growth": g}
                          for url, (a, b, g) in rss.trend(args.rss_from).items()},
        "rss_series": rss.samples, "file_problems": problems, "servers_alive_at_end": alive,
    }
    print(f"\njobs succeeded: {done}/{args.jobs}")
    for url, (first, last, ratio) in growth.items():
        print(f"RSS {url}: {first:.0f} MiB after job {args.rss_from} -> {last:.0f} MiB after the last job "
              f"({100 * ratio:+.1f} %)")
    for url, (first, last, ratio) in rss.trend(args.rss_from).items():
        print(f"RSS {url}, mean of 10 samples: {first:.0f} MiB from job {args.rss_from} on -> {last:.0f} MiB at the "
              f"end ({100 * ratio:+.1f} %)")
    print(f"files: {len(os.listdir(out_dir)) if os.path.isdir(out_dir) else 0} downloaded; "
          + ("all distinct, complete, none empty or partial" if not problems else "; ".join(problems)))
    print(f"wall: {wall:.0f} s for {video_seconds:.0f} s of video = {wall / args.jobs:.1f} s per job with "
          f"{args.servers} servers (one job per server at a time); per job median {figures['job_s_median']:.1f} s, "
          f"p90 {figures['job_s_p90']:.1f} s, max {figures['job_s_max']:.1f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    ok = (done == args.jobs and not problems and alive
          and all(g <= args.max_growth for _, _, g in growth.values()))
    print("SOAK PASSED" if ok else "SOAK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
