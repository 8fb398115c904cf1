"""How fast is DiT expression sampling, and does its memory stay flat with audio length?

    python bench/bench_sampling.py [--checkpoint FILE] [--preset embedded] [--device cpu] [--threads 2]

Prints (1) sampling seconds per second of audio for several step counts (median of --repeats runs on 10 s of
audio at 25 fps, ddim, guidance 1 and 2), and (2) peak memory of sampling 1 vs 10 minutes of audio, each in a
fresh process (CPU: peak resident set size; CUDA: torch.cuda.max_memory_allocated).
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

from _pack import load_pack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _model(args):
    load_pack()
    from comfyui_modit.modit.dit.checkpoint import load_dit
    from comfyui_modit.modit.dit.model import MoDiT
    from comfyui_modit.modit.dit.presets import build_config
    from comfyui_modit.modit.dit.schedule import NoiseSchedule

    if args.checkpoint:
        model, info = load_dit(args.checkpoint, args.device)
        return model, NoiseSchedule(info.schedule), os.path.basename(args.checkpoint)
    torch.manual_seed(0)
    model = MoDiT(build_config(args.preset)).to(args.device).eval()  # random weights: same cost as trained ones
    return model, NoiseSchedule(), f"{args.preset} (random weights)"


def _sample(model, schedule, seconds, steps, guidance, device):
    from comfyui_modit.modit.dit.sampling import SamplingOptions, sample_expression

    frames = int(seconds * 25)
    audio = torch.randn(frames, model.config.feature_dim)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    tic = time.perf_counter()
    sample_expression(model, schedule, audio, torch.zeros(model.config.expression_dim),
                      SamplingOptions(num_steps=steps, guidance_scale=guidance))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - tic


def memory_child(args) -> None:
    model, schedule, _ = _model(args)
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _sample(model, schedule, args.memory_child * 60, args.memory_steps, 1.0, args.device)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    gpu = torch.cuda.max_memory_allocated() if args.device.startswith("cuda") else 0
    print(json.dumps({"rss_peak_mib": peak / 1024, "rss_growth_mib": (peak - before) / 1024,
                      "cuda_peak_mib": gpu / 2 ** 20}))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="a DiT .safetensors (default: random weights of --preset)")
    p.add_argument("--preset", default="embedded")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", default="5,10,20,50")
    p.add_argument("--memory-steps", type=int, default=2, help="steps for the memory runs (memory is per step)")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--memory-child", type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child is not None:
        memory_child(args)
        return 0
    model, schedule, name = _model(args)
    print(f"DiT {name}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, window "
          f"{model.config.window} frames; device {args.device}, torch {torch.__version__}, {args.threads} threads, "
          f"{platform.processor() or platform.machine()}, load average {os.getloadavg()[0]:.1f}")
    _sample(model, schedule, 2, 2, 1.0, args.device)  # warm-up
    print("\nsampling seconds per second of audio (10 s of audio, ddim, median of %d runs)" % args.repeats)
    print(f"{'steps':>6} {'guidance 1':>12} {'guidance 2':>12}")
    for steps in [int(s) for s in args.steps.split(",")]:
        row = []
        for guidance in (1.0, 2.0):
            times = [_sample(model, schedule, 10, steps, guidance, args.device) for _ in range(args.repeats)]
            row.append(statistics.median(times) / 10)
        print(f"{steps:>6} {row[0]:>12.4f} {row[1]:>12.4f}")
    if args.skip_memory:
        return 0
    print(f"\npeak memory, {args.memory_steps} ddim steps, fresh process each")
    for minutes in (1, 10):
        command = [sys.executable, os.path.abspath(__file__), "--preset", args.preset, "--device", args.device,
                   "--threads", str(args.threads), "--memory-steps", str(args.memory_steps),
                   "--memory-child", str(minutes)] + (["--checkpoint", args.checkpoint] if args.checkpoint else [])
        result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        print(f"{minutes:>3} min audio: peak RSS {result['rss_peak_mib']:.0f} MiB (growth while sampling "
              f"{result['rss_growth_mib']:.1f} MiB), CUDA peak {result['cuda_peak_mib']:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
