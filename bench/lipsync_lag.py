"""When does the DiT's mouth move, against the measured mouth of the shards: the clips it was trained on and the
unseen val clips (issue 14)? Per clip, Pearson r of the generated opening (the proxy's map of the sampled expression,
bench/lipsync_proxy.py, the shipped sampling: guidance 2.5, slow_noise 0) with the shard's measured opening at lags
-3..+3 (+: generated late), the mean over clips, and where it peaks (parabola through the best lag and its
neighbours). The shards' own tracked expression through the same map (it peaks at 0: the map adds no delay) and the
per-frame loudness are printed beside it: a predictor with no model that peaks late too says the clip's sound runs
behind its picture.

    OMP_NUM_THREADS=2 python bench/lipsync_lag.py --shards /work/data/real_wa   # shards: modit/train/README.md
"""
import argparse
import sys

import numpy as np
import torch

import lipsync_proxy as proxy  # bench/ is sys.path[0] when this file runs: siblings import
from lipsync_ceiling import lagged_pearson

from comfyui_modit.modit.dit.checkpoint import load_dit  # noqa: E402  (the pack, loaded by lipsync_proxy)
from comfyui_modit.modit.dit.sampling import (SamplingOptions, checkpoint_bias, sample_expression,  # noqa: E402
                                              take_back_guidance)
from comfyui_modit.modit.dit.schedule import NoiseSchedule  # noqa: E402
from comfyui_modit.modit.face.components import JAW_OPEN  # noqa: E402

LAGS = tuple(range(-3, 4))
GUIDANCE = 2.5


def lags_by_clip(utterances: list[dict], curves: list[np.ndarray]) -> list[list[float]]:
    """Per clip (utterances joined), r at each of LAGS."""
    return [[lagged_pearson(g, r, lag) for lag in LAGS] for g, r in proxy.clip_curves(utterances, curves)]


def peak_lag(r: list[float]) -> float:
    """The lag of the highest r, refined by a parabola through it and its neighbours."""
    k = int(np.argmax(r))
    if 0 < k < len(r) - 1:
        a, b, c = r[k - 1], r[k], r[k + 1]
        return LAGS[k] + 0.5 * (a - c) / min(a - 2 * b + c, -1e-9)
    return float(LAGS[k])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", default="/work/data/real_wa", help="train/ in sync, val/ as recorded")
    parser.add_argument("--dit", default="modit/weights/modit_embedded_v5_more.safetensors")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    train = proxy.load_utterances(f"{args.shards}/train")
    val = proxy.load_utterances(f"{args.shards}/val")
    w, b = proxy.opening_map(train)
    model, info = load_dit(args.dit)
    schedule = NoiseSchedule(info.schedule)
    options = SamplingOptions(guidance_scale=GUIDANCE, slow_noise=0.0, seed=args.seed, **checkpoint_bias(info.bias))
    for split, utterances in (("train", train), ("val", val)):
        generated = [take_back_guidance(sample_expression(model, schedule, u["features"], u["beta_0"], options),
                                        u["beta_0"], GUIDANCE, proxy.FPS, mouth=(JAW_OPEN,)).numpy() @ w + b
                     for u in utterances]
        tracked = [u["expression"].numpy() @ w + b for u in utterances]
        loudness = [u["level"] for u in utterances]
        for label, curves in (("DiT", generated), ("tracked", tracked), ("loudness", loudness)):
            per_clip = lags_by_clip(utterances, curves)
            mean = np.mean(per_clip, axis=0)
            print(f"{split:5s} {label:8s} {len(per_clip):3d} clips  r by lag "
                  + " ".join(f"{lag:+d} {r:.3f}" for lag, r in zip(LAGS, mean))
                  + f"  peak of the mean {peak_lag(list(mean)):+.2f}, median clip peak "
                  + f"{np.median([peak_lag(r) for r in per_clip]):+.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
