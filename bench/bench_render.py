"""Bench: how fast does the embedded flow renderer run on CPU, and does streaming memory stay flat in clip length?

Prints medians of several runs: frames per second of the renderer alone (MoDiT Flow Render's work) and of
render + H.264/AAC encoding to an mp4 (MoDiT Render To Video), at 512x512 and 1024x1024, for 1 and 2 torch
threads; then the peak resident memory of streaming 10 s and 60 s clips (each in a fresh process).
Run: python bench/bench_render.py [--quick]
"""
import argparse
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from _pack import load_pack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FPS = 25.0
SR = 16000


def astronaut(size):
    import torch
    import torch.nn.functional as F
    from skimage import data

    image = torch.from_numpy(data.astronaut()).float() / 255
    if size != 512:
        image = F.interpolate(image.permute(2, 0, 1)[None], size=(size, size), mode="bilinear",
                              align_corners=False)[0].permute(1, 2, 0).clamp(0, 1)
    from comfyui_modit.modit.face.analysis import analyse_portrait
    return analyse_portrait(image)


def talking_motion(face, T):
    """Speech-like motion: jaw at syllable rate, a blink every ~3 s, slow head sway."""
    import torch
    from comfyui_modit.modit.types import Motion

    t = torch.arange(T).float() / FPS
    expression = face.beta_0.float().repeat(T, 1)
    expression[:, 0] = face.beta_0[0] + 0.35 * (0.5 + 0.5 * torch.sin(2 * math.pi * 4 * t))
    eyes = torch.zeros(T, 2) + torch.exp(-(((t % 3.0) - 1.5) / 0.06) ** 2)[:, None]
    pose = torch.zeros(T, 6)
    pose[:, 0] = 0.08 * torch.sin(2 * math.pi * 0.3 * t)
    pose[:, 1] = 0.04 * torch.sin(2 * math.pi * 0.2 * t)
    return Motion(expression, pose, eyes, FPS, face.space)


def sine_audio(T):
    import torch
    from comfyui_modit.modit.timing import samples_for_frames

    S = samples_for_frames(T, SR, FPS)
    return (0.2 * torch.sin(torch.arange(S) / SR * 2 * math.pi * 180))[None], SR


def bench_speed(sizes, threads_list, frames, repeats):
    import torch
    from comfyui_modit.modit.render.renderer import RenderOptions, render_frames
    from comfyui_modit.modit.render.video import render_to_video

    for size in sizes:
        face = astronaut(size)
        motion = talking_motion(face, frames)
        for threads in threads_list:
            torch.set_num_threads(threads)
            options = RenderOptions(cpu_threads=0)  # the thread count set here, not the renderer's default
            render_frames(face, talking_motion(face, 8), options)  # warm-up
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                render_frames(face, motion, options)
                times.append(time.perf_counter() - start)
            render_s = statistics.median(times) / frames
            times = []
            with tempfile.TemporaryDirectory() as folder:
                for i in range(repeats):
                    start = time.perf_counter()
                    render_to_video(face, motion, os.path.join(folder, f"{i}.mp4"), options,
                                    sine_audio(frames), preset="veryfast")
                    times.append(time.perf_counter() - start)
            video_s = statistics.median(times) / frames
            print(f"{size}x{size} threads={threads}: render {1000 * render_s:6.1f} ms/frame ({1 / render_s:5.1f} fps)"
                  f" | render+encode mp4 {1000 * video_s:6.1f} ms/frame ({1 / video_s:5.1f} fps)", flush=True)


def stream_once(seconds, size):
    """Child process: stream a clip of `seconds` to mp4, print peak RSS in MiB."""
    import torch
    from comfyui_modit.modit.render.renderer import RenderOptions
    from comfyui_modit.modit.render.video import render_to_video

    torch.set_num_threads(1)
    face = astronaut(size)
    T = int(seconds * FPS)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        render_to_video(face, talking_motion(face, T), os.path.join(folder, "clip.mp4"), RenderOptions(),
                        sine_audio(T))
        elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"{peak:.1f} {elapsed:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames and runs")
    parser.add_argument("--ten-minutes", action="store_true", help="also stream a 10 minute clip (slow)")
    parser.add_argument("--stream-child", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=512, help=argparse.SUPPRESS)
    args = parser.parse_args()
    load_pack()
    import torch

    if args.stream_child is not None:
        stream_once(args.stream_child, args.size)
        return
    import av

    print(f"torch {torch.__version__}, PyAV {av.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    frames, repeats = (25, 3) if args.quick else (50, 3)
    bench_speed([512, 1024], [1, 2], frames, repeats)
    for seconds in (10, 60) + ((600,) if args.ten_minutes else ()):
        peaks = []
        for _ in range(1 if args.quick else 2):
            out = subprocess.run([sys.executable, __file__, "--stream-child", str(seconds)], capture_output=True,
                                 text=True, check=True).stdout.split()
            peaks.append((float(out[0]), float(out[1])))
        peak = statistics.median(p for p, _ in peaks)
        wall = statistics.median(w for _, w in peaks)
        print(f"stream {seconds:3d} s clip at 512x512 to mp4: peak RSS {peak:7.1f} MiB, "
              f"{1000 * wall / (seconds * FPS):.1f} ms/frame", flush=True)


if __name__ == "__main__":
    main()
