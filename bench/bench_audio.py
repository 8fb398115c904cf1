"""How long does audio encoding take per minute of audio, and does its memory stay flat as audio gets longer?

    python bench/bench_audio.py                         # built-in mel, 1 and 10 minutes, 44.1 kHz stereo
    python bench/bench_audio.py --encoder hubert-base --minutes 1 --repeats 1   # random-weight HuBERT-base

Each measurement runs in a fresh subprocess so peak RSS belongs to that run alone. Printed per length:
median seconds of compute per minute of audio, median peak RSS, and the RSS above what the input and the
outputs must occupy (input waveform + aligned mono + 16 kHz copy + features): that residue is the chunk's
working memory and should not grow with length.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(minutes: float, encoder_name: str, rate: int, threads: int) -> dict:
    from _pack import load_pack

    import torch

    torch.set_num_threads(threads)
    pack = load_pack()
    AudioEncoder = pack.modit.audio.encoder.AudioEncoder
    if encoder_name == "mel":
        encoder = AudioEncoder.builtin_mel()
    else:
        import transformers

        model = transformers.HubertModel(transformers.HubertConfig()).eval()  # hubert-base-ls960's shapes
        encoder = AudioEncoder("hubert", 768, name="random hubert-base", model=model)
    warm = {"waveform": torch.randn(1, 2, rate) * 0.1, "sample_rate": rate}
    encoder.encode(warm, 25.0)  # filter design, lazy imports
    samples = int(minutes * 60 * rate)
    audio = {"waveform": torch.randn(1, 2, samples, generator=torch.Generator().manual_seed(0)).mul_(0.1),
             "sample_rate": rate}
    base_rss = _rss_mb()
    start = time.perf_counter()
    features = encoder.encode(audio, 25.0)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    outputs_mb = _held_mb(features, samples / rate * 16000 * 4 if encoder_name != "mel" else 0)
    return {"seconds": seconds, "peak_rss_mb": peak, "input_rss_mb": base_rss,
            "working_mb": peak - base_rss - outputs_mb, "frames": features.num_frames}


def _held_mb(features, extra_bytes: float) -> float:
    """MB the result holds: a tensor track's [T, D] (a lazy mel track keeps one float per frame), the aligned audio
    when it is a copy rather than a view of the input (never for these inputs), plus extra_bytes."""
    import torch

    track = features.track
    held = track.numel() * 4 if torch.is_tensor(track) else track.shape[0] * 4
    return (held + extra_bytes) / 2 ** 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", choices=("mel", "hubert-base"), default="mel")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=int, default=44100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.encoder, args.rate, args.threads)))
        return
    import torch

    print(f"audio encoder bench: encoder={args.encoder} rate={args.rate} Hz stereo, fps 25, threads={args.threads}, "
          f"device=cpu, torch {torch.__version__}, python {platform.python_version()}, {platform.machine()}")
    for minutes in args.minutes:
        runs = []
        for _ in range(args.repeats):
            out = subprocess.run([sys.executable, __file__, "--child", str(minutes), "--encoder", args.encoder,
                                  "--rate", str(args.rate), "--threads", str(args.threads)],
                                 capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        per_minute = statistics.median(r["seconds"] / minutes for r in runs)
        peak = statistics.median(r["peak_rss_mb"] for r in runs)
        working = statistics.median(r["working_mb"] for r in runs)
        print(f"{minutes:5.1f} min ({runs[0]['frames']} frames): {per_minute:.3f} s compute per audio minute, "
              f"peak RSS {peak:.0f} MB (input loaded: {statistics.median(r['input_rss_mb'] for r in runs):.0f} MB), "
              f"working memory beyond input+outputs {working:.0f} MB  [median of {len(runs)}]")


if __name__ == "__main__":
    main()
