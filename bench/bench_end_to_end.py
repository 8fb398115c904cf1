"""End to end (audio encoding to encoded mp4): real-time factor and peak memory per clip length and output size.

    python bench/bench_end_to_end.py                      # 10 s and 60 s at 256 and 512 px, 3 runs each
    python bench/bench_end_to_end.py --seconds 10 600 --sizes 512 --workflow workflows/api/modit_long_audio_to_file.json

Each run is a fresh `python -m modit generate` process, so peak RSS is that run's own. Prints medians.
Real-time factor (RTF) = wall seconds per second of video (<= 1.0 is real time); it includes process
start-up and model loading. CPU s adds up every thread's time.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_inputs(workdir: str, seconds: float, size: int) -> tuple[str, str]:
    """The sample portrait at size x size, and the sample speech repeated to `seconds` (16-bit wav)."""
    import cv2
    import soundfile

    image = cv2.imread(os.path.join(ROOT, "samples", "portrait.png"))
    image_path = os.path.join(workdir, f"portrait_{size}.png")
    cv2.imwrite(image_path, cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
    speech, rate = soundfile.read(os.path.join(ROOT, "samples", "speech.wav"), dtype="float32")
    repeats = int(np.ceil(seconds * rate / len(speech)))
    audio = np.tile(speech, repeats)[: int(seconds * rate)]
    audio_path = os.path.join(workdir, f"speech_{seconds:g}s.wav")
    soundfile.write(audio_path, audio, rate, subtype="PCM_16")
    return image_path, audio_path


def run_once(image: str, audio: str, out: str, workflow: str | None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MiB) of one generate process."""
    command = [sys.executable, "-m", "modit", "generate", "--image", image, "--audio", audio, "--out", out, "--overwrite"]
    if workflow:
        command += ["--workflow", workflow]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage (RUSAGE_CHILDREN would be a max)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if process.returncode != 0:
            log.seek(0)
            raise RuntimeError(f"generate failed ({process.returncode}):\n{log.read().decode(errors='replace')[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[10, 60])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workflow", default=None, help="API workflow to run (default: the CLI's basic one)")
    args = parser.parse_args()
    import torch

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"python {platform.python_version()}, workflow {os.path.basename(args.workflow or 'modit_basic.json')}")
    print(f"{'audio s':>8} {'size':>5} {'median wall s':>14} {'RTF':>6} {'CPU s':>7} {'peak RSS MiB':>13}")
    with tempfile.TemporaryDirectory() as workdir:
        for size in args.sizes:
            for seconds in sorted(args.seconds):
                image, audio = make_inputs(workdir, seconds, size)
                walls, cpus, peaks = [], [], []
                for run in range(args.runs):
                    wall, cpu, peak = run_once(image, audio, os.path.join(workdir, f"out_{run}.mp4"), args.workflow)
                    walls.append(wall)
                    cpus.append(cpu)
                    peaks.append(peak)
                wall = statistics.median(walls)
                print(f"{seconds:8.0f} {size:5d} {wall:14.2f} {wall / seconds:6.2f} {statistics.median(cpus):7.1f} "
                      f"{max(peaks):13.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
