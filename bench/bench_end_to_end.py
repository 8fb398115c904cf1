"""End to end (audio encoding to encoded mp4): real-time factor and peak memory per clip length and output size.

    python bench/bench_end_to_end.py                      # 10 s and 60 s at 256 and 512 px, 3 runs each
    python bench/bench_end_to_end.py --seconds 10 600 --sizes 512 --workflow streaming
    python bench/bench_end_to_end.py --device cuda --seconds 10 --sizes 512 1024 --workflow basic --runs 1
    python bench/bench_end_to_end.py --seconds 10 3600 --sizes 128 --steps 1 --runs 1 --workflow streaming

Each run is a fresh `python -m modit_app generate` process; its peak RSS is its own ru_maxrss, which Linux never
reports below the bench's own peak (own_peak_mib), so the bench never holds a clip. Prints medians.
Real-time factor (RTF) = wall seconds per second of video (<= 1.0 is real time); it includes process
start-up and model loading. CPU s adds up every thread's time. --workflow: "basic" (frames as IMAGE ->
CreateVideo -> SaveVideo), "streaming" (MoDiT Render To Video) or a path to an API workflow. --device sets
MODIT_DEVICE for the run (cpu, cuda, cuda:1, mps); MODIT_CPU_RENDER_WORKERS=2 in the bench's environment renders
two chunks at once on a CPU (modit/render/renderer.py; the header says so). The stage split is seconds per second
of video per stage (the run's median), from the CLI's --timings: start-up = wall minus every node's own time.
--warm runs the workflow twice per process (generate --repeat 2) and adds the second run's RTF: what a running
ComfyUI server spends per queued clip once Python, the device and the file caches are warm (its nodes' own
seconds); the split is then that run's, and wall and RTF are the first run's (the process less the second run).
CPU s and peak RSS stay the whole process's.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRITE_BLOCK = 1 << 20  # samples of speech written at a time (make_inputs)


def make_inputs(workdir: str, seconds: float, size: int) -> tuple[str, str]:
    """The sample portrait at size x size, and the sample speech repeated to `seconds` (16-bit wav).

    The speech is written a block at a time: this process never holds the clip. A child's peak RSS (ru_maxrss)
    includes the peak of the process that spawned it (see own_peak_mib), so an hour held here (317 MB at
    22.05 kHz) would be reported as the generate run's own.
    """
    import cv2
    import soundfile

    image = cv2.imread(os.path.join(ROOT, "samples", "portrait.png"))
    image_path = os.path.join(workdir, f"portrait_{size}.png")
    cv2.imwrite(image_path, cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
    speech, rate = soundfile.read(os.path.join(ROOT, "samples", "speech.wav"), dtype="float32")
    total = int(seconds * rate)
    audio_path = os.path.join(workdir, f"speech_{seconds:g}s.wav")
    channels = 1 if speech.ndim == 1 else speech.shape[1]
    with soundfile.SoundFile(audio_path, "w", rate, channels, subtype="PCM_16") as out:
        for start in range(0, total, WRITE_BLOCK):
            out.write(speech[np.arange(start, min(start + WRITE_BLOCK, total)) % len(speech)])
    return image_path, audio_path


def own_peak_mib() -> float:
    """This process's peak RSS so far. Linux gives a child's ru_maxrss at least this (the spawning process's
    high-water mark is carried over at exec), so a child figure not above it measures the bench, not the run."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


WORKFLOWS = {"basic": "modit_basic.json", "streaming": "modit_long_audio_to_file.json"}
# class_type -> stage of the split (nodes not listed count as "other")
STAGES = {"LoadImage": "load", "LoadAudio": "load", "MoDiTEncodeAudio": "audio", "MoDiTLoadAudioEncoder": "audio",
          "MoDiTExtract3DMM": "face", "MoDiTLoadDiT": "dit", "MoDiTSampleExpression": "dit",
          "MoDiTBlinkPose": "blink+pose", "MoDiTFlowRender": "render", "MoDiTRenderToVideo": "render+encode",
          "ImageScaleBy": "render", "CreateVideo": "encode", "SaveVideo": "encode"}
STAGE_ORDER = ("start-up", "load", "audio", "face", "dit", "blink+pose", "render", "render+encode", "encode", "other")


def workflow_path(name: str | None) -> str | None:
    if name is None or os.path.isfile(name):
        return name
    if name in WORKFLOWS:
        return os.path.join(ROOT, "workflows", "api", WORKFLOWS[name])
    raise SystemExit(f"--workflow {name!r}: neither {sorted(WORKFLOWS)} nor a file")


def run_once(image: str, audio: str, out: str, workflow: str | None, device: str | None = None,
             steps: int | None = None, repeat: int = 1) -> tuple[float, float, float, dict]:
    """(wall seconds, CPU seconds, peak RSS in MiB, {stage: seconds}) of one generate process; with repeat > 1 the
    stages are the last run's and carry no start-up."""
    timings = out + ".timings.json"
    command = [sys.executable, "-m", "modit_app", "generate", "--image", image, "--audio", audio, "--out", out,
               "--overwrite", "--timings", timings, "--repeat", str(repeat)]
    if workflow:
        command += ["--workflow", workflow]
    if steps:
        command += ["--steps", str(steps)]
    env = dict(os.environ, **({"MODIT_DEVICE": device} if device else {}))
    start = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log, env=env)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage (RUSAGE_CHILDREN would be a max)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if process.returncode != 0:
            log.seek(0)
            raise RuntimeError(f"generate failed ({process.returncode}):\n{log.read().decode(errors='replace')[-3000:]}")
    stages = {}
    with open(timings) as f:
        for entry in json.load(f):
            stage = STAGES.get(entry["class_type"], "other")
            stages[stage] = stages.get(stage, 0.0) + entry["seconds"]
    if repeat == 1:
        stages["start-up"] = max(0.0, wall - sum(stages.values()))
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, stages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[10, 60])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workflow", default=None, help="basic, streaming, or an API workflow file (default: the "
                                                             "CLI's basic one)")
    parser.add_argument("--device", default=None, help="MODIT_DEVICE for the runs: cpu, cuda, mps (default: the "
                                                       "pack's choice: cuda if present, else cpu)")
    parser.add_argument("--steps", type=int, default=None, help="sampler steps (default: the workflow's); 1 makes "
                                                                   "an hour of audio affordable for memory figures")
    parser.add_argument("--warm", action="store_true", help="also time a second run in the same process (a warm "
                                                            "server's cost per clip)")
    args = parser.parse_args()
    workflow = workflow_path(args.workflow)
    workers = os.environ.get("MODIT_CPU_RENDER_WORKERS")  # generate runs inherit it
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    gpu = f", {torch.cuda.get_device_name()}" if device.startswith("cuda") and torch.cuda.is_available() else ""
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"python {platform.python_version()}, device {device}{gpu}, "
          f"workflow {os.path.basename(workflow) if workflow else WORKFLOWS['streaming'] + ' (the CLI default)'}"
          f"{f', --steps {args.steps}' if args.steps else ''}"
          f"{f', MODIT_CPU_RENDER_WORKERS={workers}' if workers else ''}")
    warm_header = f" {'warm RTF':>9}" if args.warm else ""
    print(f"{'audio s':>8} {'size':>5} {'median wall s':>14} {'RTF':>6}{warm_header} {'CPU s':>7} "
          f"{'peak RSS MiB':>13}  split{' (warm run)' if args.warm else ''}, s per video s")
    with tempfile.TemporaryDirectory() as workdir:
        for size in args.sizes:
            for seconds in sorted(args.seconds):
                image, audio = make_inputs(workdir, seconds, size)
                runs = [run_once(image, audio, os.path.join(workdir, f"out_{run}.mp4"), workflow, args.device,
                                 args.steps, 2 if args.warm else 1)
                        for run in range(args.runs)]
                if args.warm:  # the process ran twice: its first (cold) run is the wall less the second's nodes
                    runs = [(r[0] - sum(r[3].values()),) + r[1:] for r in runs]
                walls = [r[0] for r in runs]
                wall = statistics.median(walls)
                median_run = runs[walls.index(sorted(walls)[len(walls) // 2])]
                split = "  ".join(f"{stage} {median_run[3][stage] / seconds:.3f}" for stage in STAGE_ORDER
                                  if stage in median_run[3])
                peak = max(r[2] for r in runs)
                warm = (f" {statistics.median(sum(r[3].values()) for r in runs) / seconds:9.3f}" if args.warm
                        else "")
                print(f"{seconds:8.0f} {size:5d} {wall:14.2f} {wall / seconds:6.2f}{warm} "
                      f"{statistics.median(r[1] for r in runs):7.1f} {peak:13.0f}  {split}", flush=True)
                if peak <= own_peak_mib() + 1:
                    print(f"# peak RSS {peak:.0f} MiB is not the run's: this bench itself peaked at "
                          f"{own_peak_mib():.0f} MiB and a child's ru_maxrss is at least its parent's", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
