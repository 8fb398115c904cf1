"""The command line: `python -m modit_app generate` renders a talking head from a portrait and a speech file by
running a bundled workflow with the pack's nodes. The default, workflows/api/modit_long_audio_to_file.json, is the
basic template's graph with MoDiT Render To Video writing the mp4 as frames are rendered: the same file, bit for bit,
faster (encoding beside rendering) and in memory that does not grow with the clip (the basic template holds every
frame as one IMAGE batch: 60 s at 512 px is 6.8 GiB).

    python -m modit_app generate --image samples/portrait.png --audio samples/speech.wav --out output/demo.mp4
"""
import argparse
import json
import logging
import os
import shutil
import sys
import time

from .. import nodes  # the pack's node classes (this module is loaded as <pack>.modit_app.cli)
from ..nodes.render import MOUTH_CHOICES
from . import graph_runner

log = logging.getLogger(__name__)

PACK_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_WORKFLOW = os.path.join(PACK_ROOT, "workflows", "api", "modit_long_audio_to_file.json")


def _set_inputs(graph: dict, name: str, value) -> int:
    """Set widget `name` on every node that has it as a literal; returns how many were set."""
    count = 0
    for node in graph.values():
        inputs = node.get("inputs", {})
        if name in inputs and not isinstance(inputs[name], list):
            inputs[name] = value
            count += 1
    return count


def _progress_printer():
    state = {"last": 0.0}

    def hook(done, total):
        now = time.time()
        if done == total or now - state["last"] > 0.5:
            state["last"] = now
            sys.stderr.write(f"\r  {done}/{total}")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    return hook


def generate(args) -> int:
    from ..modit.render.renderer import requested_render_workers

    requested_render_workers()  # a bad MODIT_CPU_RENDER_WORKERS fails here, not after minutes of sampling
    with open(args.workflow) as f:
        graph = json.load(f)
    for kind, key, path in (("LoadImage", "image", args.image), ("LoadAudio", "audio", args.audio)):
        if not os.path.isfile(path):
            raise SystemExit(f"{path}: no such file")
        if not _set_inputs({k: v for k, v in graph.items() if v["class_type"] == kind}, key, os.path.abspath(path)):
            raise SystemExit(f"{args.workflow}: has no {kind} node for --{key}")
    for name in ("seed", "steps", "fps", "mouth_style", "close_parted_lips", "opening_prior",
                 "speech_lift", "close_dark_mouth"):
        value = getattr(args, name)
        if value is not None and not _set_inputs(graph, name, value):
            log.warning("--%s: no node in %s has that widget", name, os.path.basename(args.workflow))
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not args.overwrite:
        raise SystemExit(f"{out} exists; pass --overwrite to replace it, or choose another --out")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    # Everything is written beside --out under a temporary name and moved into place at the end, so a failed
    # or cancelled run never leaves a half-written --out (nor replaces a good one).
    staging = os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.partial")
    os.makedirs(staging, exist_ok=True)
    video_path = os.path.join(staging, "video.mp4")
    start = time.time()
    try:
        for _ in range(args.repeat):  # later runs find imports, devices and file caches warm, as a server does
            timings = []
            outputs = graph_runner.run_graph(graph, nodes.NODES, timings, output_dir=staging,
                                             video_path=video_path, progress=_progress_printer())
            written = [video_path] if os.path.exists(video_path) else []
            written += [outputs[i][0] for i, n in graph.items() if n["class_type"] == "MoDiTRenderToVideo"]
            if len(written) != 1:
                raise SystemExit(f"{os.path.basename(args.workflow)}: expected one video, the graph wrote "
                                 f"{len(written)}")
            os.replace(written[0], out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("done in %.1f s: %s", time.time() - start, out)
    if args.timings:
        with open(args.timings, "w") as f:
            json.dump([{"node": n, "class_type": k, "seconds": round(t, 4)} for n, k, t in timings], f, indent=1)
    return 0


def main(argv=None) -> int:
    gen = argparse.ArgumentParser(prog="python -m modit_app generate",
                                  description="portrait + speech -> talking-head mp4 (runs a bundled workflow)")
    gen.add_argument("--image", required=True, help="the portrait (png/jpg)")
    gen.add_argument("--audio", required=True, help="the speech (wav/mp3/flac/...)")
    gen.add_argument("--out", default="output/modit.mp4", help="the mp4 to write")
    gen.add_argument("--workflow", default=DEFAULT_WORKFLOW, help="an API-format workflow from workflows/api/")
    gen.add_argument("--seed", type=int, help="motion seed (same seed, same motion)")
    gen.add_argument("--steps", type=int, help="sampler steps")
    gen.add_argument("--fps", type=float, help="video frame rate")
    gen.add_argument("--mouth-style", choices=MOUTH_CHOICES, help="the render node's mouth_style, e.g. 'cavity (no "
                                                                  "teeth)' for a baby or a toothless mouth")
    gen.add_argument("--close-parted-lips", type=float, metavar="0..1",
                     help="for a portrait caught mid-word: how far the resting mouth brings its lips together "
                          "(the Sample Expression node's close_parted_lips; 0 keeps the portrait's own mouth)")
    gen.add_argument("--opening-prior", type=float, metavar="0..1",
                     help="how far the mouth opening's slow course follows the opening regressor (the Sample "
                          "Expression node's opening_prior; 0: the DiT's mouth alone)")
    gen.add_argument("--speech-lift", type=float, metavar="0..0.3",
                     help="for a portrait whose lips are together: how far its jaw is lifted in speech (the Sample "
                          "Expression node's speech_lift; 0: the DiT's jaw alone)")
    gen.add_argument("--close-dark-mouth", type=float, metavar="0..1",
                     help="for a portrait caught with its mouth wide open and no teeth showing: close_parted_lips "
                          "on its own, this far (the Sample Expression node's close_dark_mouth; 0: off)")
    gen.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    gen.add_argument("--timings", help="write seconds per node as JSON here (bench/bench_end_to_end.py reads it); "
                                       "with --repeat, the last run's")
    gen.add_argument("--repeat", type=int, default=1, help="run the workflow this many times in one process, as a "
                                                           "ComfyUI server runs queued prompts (benches)")
    gen.add_argument("-v", "--verbose", action="store_true")
    args = gen.parse_args(argv)
    if args.repeat < 1:
        gen.error(f"--repeat: expected 1 or more, got {args.repeat}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return generate(args)
    except (ValueError, FileNotFoundError) as error:  # bad input: the message says what and how to fix it
        if args.verbose:
            raise
        sys.stderr.write(f"error: {error}\n")
        return 2
