"""How many CPU seconds does analysing one portrait take (detection, two mesh passes, iris, pose, fit)?

Prints the median of several runs of analyse_portrait on skimage.data.astronaut() (512x512) and on a 4x upscale,
with the device, thread count and versions. Uses the embedded FaceStack, or with --dev-litert the LiteRT
stand-in from tests/face (development only).
"""
import argparse
import logging
import os
import platform
import statistics
import importlib.util
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dev-litert", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from _pack import load_pack

    load_pack()
    from comfyui_modit.modit.face.analysis import analyse_portrait
    if args.dev_litert:  # the test suite's LiteRT reference stack, loaded by its path
        spec = importlib.util.spec_from_file_location("litert_stack", os.path.join(ROOT, "tests", "face", "litert_stack.py"))
        litert_stack = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(litert_stack)
        LiteRTFaceStack = litert_stack.LiteRTFaceStack
        stack, kind = LiteRTFaceStack.load(), "LiteRT reference (dev)"
    else:
        from comfyui_modit.modit.face.mediapipe import FaceStack
        stack, kind = FaceStack.load(device="cpu"), "embedded FaceStack"
    import skimage.data
    image = torch.from_numpy(skimage.data.astronaut()).float() / 255.0
    big = torch.nn.functional.interpolate(image.permute(2, 0, 1)[None], scale_factor=4, mode="bilinear")[0]
    big = big.permute(1, 2, 0).contiguous()
    print(f"stack: {kind}; torch {torch.__version__}; {platform.processor() or platform.machine()}; "
          f"threads {args.threads}; runs {args.runs}")
    for name, img in (("512x512", image), ("2048x2048", big)):
        analyse_portrait(img, stack=stack)  # warm-up
        seconds, wall = [], []
        for _ in range(args.runs):
            start, start_wall = time.process_time(), time.perf_counter()
            analyse_portrait(img, stack=stack)
            seconds.append(time.process_time() - start)
            wall.append(time.perf_counter() - start_wall)
        print(f"{name}: median {statistics.median(seconds):.3f} CPU s per portrait "
              f"(min {min(seconds):.3f}, max {max(seconds):.3f}); median wall {statistics.median(wall):.3f} s")


if __name__ == "__main__":
    main()
