"""Where a fresh process's first seconds go: each stage of the pipeline timed on its first and its second call.

A running ComfyUI server pays these once; the CLI, a batch job or a first queued prompt pays them every time. On a GPU
the first call of a stage can cost seconds that its second does not (CUDA context, library loading, cuDNN compiling
kernels for new convolution shapes), so this is the bench to read when a fresh end-to-end run is far slower than a
warm one (bench_end_to_end.py --warm).

    python bench/bench_cold_start.py --device cuda          # run in a fresh process: that is the point
    python bench/bench_cold_start.py --device cpu --seconds 4

Stages, in pipeline order, on the bundled samples (portrait.png, speech.wav): importing torch and the pack, the
device's context, face analysis, Whisper + mel features, DiT sampling (the default DiT, the default widgets' guidance
and slow_noise), and 16 frames rendered at 512 px. Prints seconds per call; CUDA work is synchronised before each clock
reading. Writes nothing.
"""
import argparse
import os
import platform
import sys
import time

T_START = time.perf_counter()
import torch  # noqa: E402  (timed: importing torch is part of a cold start)

T_TORCH = time.perf_counter() - T_START
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clock(device: torch.device, call) -> float:
    start = time.perf_counter()
    call()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=10.0, help="speech used for features and sampling")
    parser.add_argument("--dtype", default="auto", help="DiT and Whisper weights: auto, fp32, fp16 or bf16")
    args = parser.parse_args()
    device = torch.device(args.device)
    os.environ["MODIT_DEVICE"] = str(device)

    rows = [("import torch", T_TORCH, None)]
    start = time.perf_counter()
    from _pack import load_pack

    load_pack()
    import cv2
    import numpy as np
    import soundfile

    from comfyui_modit.modit.audio.encoder import AudioEncoder
    from comfyui_modit.modit.dit.handle import DiTHandle
    from comfyui_modit.modit.dit.sampling import SamplingOptions
    from comfyui_modit.modit.face.analysis import analyse_portrait
    from comfyui_modit.modit.face.mediapipe.stack import FaceStack
    from comfyui_modit.modit.render.renderer import FlowRenderer, RenderOptions
    from comfyui_modit.nodes.motion import BUNDLED_DITS, SLOW_NOISE

    rows.append(("import the pack", time.perf_counter() - start, None))
    if device.type == "cuda":
        rows.append(("CUDA context", clock(device, lambda: torch.zeros(1, device=device)), None))

    image = torch.from_numpy(np.ascontiguousarray(cv2.imread(os.path.join(ROOT, "samples", "portrait.png"))[..., ::-1]))
    image = image.float() / 255
    wave, rate = soundfile.read(os.path.join(ROOT, "samples", "speech.wav"), dtype="float32")
    wave = np.tile(wave, -(-int(args.seconds * rate) // len(wave)))[: int(args.seconds * rate)]
    audio = {"waveform": torch.from_numpy(wave).reshape(1, 1, -1), "sample_rate": rate}

    def twice(name, call):
        results = []
        first = clock(device, lambda: results.append(call()))
        second = clock(device, lambda: results.append(call()))
        rows.append((name, first, second))
        return results[-1]

    stack = FaceStack.load(device)
    face = twice("face analysis (portrait)", lambda: analyse_portrait(image, stack=stack))
    encoder = AudioEncoder.builtin_whisper(args.dtype)
    features = encoder.encode(audio, 25.0)  # lazy: its rows are computed when first read
    twice(f"Whisper + mel features ({args.seconds:g} s)", lambda: features.features)
    dit = DiTHandle.from_file(os.path.join(ROOT, "modit", "weights", BUNDLED_DITS[0][1]), args.dtype)
    options = SamplingOptions(guidance_scale=2.5, slow_noise=SLOW_NOISE, seed=0)
    motion = twice(f"DiT sampling ({args.seconds:g} s)", lambda: dit.sample(features, face, options))
    renderer = FlowRenderer(face, RenderOptions(max_side=512), device=device)
    frames = min(16, motion.expression.shape[0])
    twice(f"render {frames} frames (512 px)", lambda: renderer.render(
        motion.expression[:frames].to(device), motion.pose[:frames].to(device),
        motion.eye_closure[:frames].to(device), None))

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"# {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, python "
          f"{platform.python_version()}, device {device} ({name}), dtype {args.dtype}")
    print(f"{'stage':40s} {'first s':>8s} {'second s':>9s}")
    for stage, first, second in rows:
        print(f"{stage:40s} {first:8.3f} {'' if second is None else f'{second:9.3f}'}")
    print(f"{'total, first calls':40s} {sum(r[1] for r in rows):8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
