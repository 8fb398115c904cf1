"""Would a supervised mouth-opening predictor, blended into the DiT's sampled mouth, lift lip sync? (issue 14 lead)

The ceiling bench's conv regressor (bench/lipsync_ceiling.py, conv_ctx7, trained on the in-sync train shards, the
mean of --seeds seeds) scores above the DiT on the same features. This proxy (bench/lipsync_proxy.py's val shards
and opening map, the shipped sampling: guidance 2.5, slow_noise 0) blends the two per utterance, both z-scored:
  plain    a * DiT + (1 - a) * regressor
  slow     the DiT's quick part (minus a Gaussian of --sigma frames) kept; its slow part a * DiT's + (1 - a) *
           the regressor's (scaled to the DiT's slow part's std)
and prints r lag 0 / best of +-1 and the >6 Hz share ratio (generated / real) per blend and sampling seed.

    OMP_NUM_THREADS=2 python bench/lipsync_blend.py --shards /work/data/real_wa   # shards: modit/train/README.md
"""
import argparse
import sys

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

import lipsync_ceiling as ceiling  # bench/ is sys.path[0] when this file runs: siblings import
import lipsync_proxy as proxy
from av_offsets import featurizer

from comfyui_modit.modit.dit.checkpoint import load_dit  # noqa: E402  (the pack, loaded by lipsync_proxy)
from comfyui_modit.modit.dit.sampling import (SamplingOptions, checkpoint_bias, sample_expression,  # noqa: E402
                                              take_back_guidance)
from comfyui_modit.modit.dit.schedule import NoiseSchedule  # noqa: E402
from comfyui_modit.modit.face.components import JAW_OPEN  # noqa: E402

GUIDANCE = 2.5


def z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / max(float(x.std()), 1e-6)


def slow_blend(dit: np.ndarray, regressor: np.ndarray, a: float, sigma: float) -> np.ndarray:
    zd, zr = z(dit), z(regressor)
    slow_d = gaussian_filter1d(zd, sigma, mode="nearest")
    slow_r = gaussian_filter1d(zr, sigma, mode="nearest")
    slow_r = slow_r * (slow_d.std() / max(float(slow_r.std()), 1e-6))
    return zd - slow_d + a * slow_d + (1 - a) * slow_r


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", default="/work/data/real_wa", help="train/ in sync, val/ as recorded")
    parser.add_argument("--dit", default="modit/weights/modit_embedded_v5_more.safetensors")
    parser.add_argument("--seeds", type=int, default=4, help="regressor training seeds (their mean predicts)")
    parser.add_argument("--sampling-seeds", type=int, default=2)
    parser.add_argument("--sigma", type=float, nargs="+", default=[1.0, 2.0])
    args = parser.parse_args()
    torch.set_num_threads(2)
    train_clips, val_clips = ceiling.load_splits(args.shards)
    featurize = featurizer(train_clips)
    regressors = [ceiling.train_conv(train_clips, ceiling.VARIANTS["conv_ctx7"], s, 10, featurize=featurize)
                  for s in range(args.seeds)]
    predict = lambda u: np.mean([f(u) for f in regressors], axis=0)  # noqa: E731
    print("regressor alone: r lag 0 / best of +-1 %.3f / %.3f" % ceiling.score(val_clips, predict), flush=True)
    train = proxy.load_utterances(f"{args.shards}/train")
    val = proxy.load_utterances(f"{args.shards}/val")
    paired = [u for c in val_clips for u in c["utterances"]]  # the same utterances, in the same order
    if len(paired) != len(val):
        raise SystemExit(f"{args.shards}/val: the two loaders disagree ({len(paired)} and {len(val)} utterances)")
    w, b = proxy.opening_map(train)
    regressed = [predict(u) for u in paired]
    model, info = load_dit(args.dit)
    schedule = NoiseSchedule(info.schedule)
    blends = [("plain", a, None) for a in (1.0, 0.75, 0.5, 0.25, 0.0)]
    blends += [("slow", a, sigma) for sigma in args.sigma for a in (0.5, 0.25, 0.0)]
    for seed in range(args.sampling_seeds):
        options = SamplingOptions(guidance_scale=GUIDANCE, slow_noise=0.0, seed=seed, **checkpoint_bias(info.bias))
        dit = [take_back_guidance(sample_expression(model, schedule, u["features"], u["beta_0"], options),
                                  u["beta_0"], GUIDANCE, proxy.FPS, mouth=(JAW_OPEN,)).numpy() @ w + b for u in val]
        for kind, a, sigma in blends:
            if kind == "plain":
                curves = [a * z(d) + (1 - a) * z(r) for d, r in zip(dit, regressed)]
            else:
                curves = [slow_blend(d, r, a, sigma) for d, r in zip(dit, regressed)]
            s = proxy.by_clip(val, curves)
            label = f"{kind} a={a:.2f}" + (f" sigma {sigma:g}" if sigma else "")
            print(f"seed {seed}  {label:24s} r {s['r0']:.3f} / {s['r1']:.3f}  >6 Hz x{s['hf_ratio']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
