"""A fast lip-sync proxy for model selection (issue 14): sample the DiT on the val shards, compare mouth openings.

bench/real_motion.py renders and re-measures every clip (~12 min per checkpoint on a loaded CPU). This proxy skips
the face pipeline: for each utterance of the speaker-disjoint val shards it samples the DiT from the shard's own
mel80 features and beta_0 (the sampler settings given, see below), maps the sampled expression to a mouth opening
with one linear map fitted on the train shards (expression -> measured inner-lip gap / inter-ocular distance), and
correlates that with the shard's measured opening (lag 0 and best of -1..+1, mean over clips). Use it to rank
checkpoints, then confirm the few best with the full bench.

    OMP_NUM_THREADS=1 nice -n 10 python bench/lipsync_proxy.py CHECKPOINT [CHECKPOINT ...] [--guidance 2]

The defaults (guidance 2, white starting noise) are those the earlier tables were measured with; the shipped
workflow samples with --guidance 2.5 --slow-noise 0.

Also printed: the same map applied to the shards' own tracked expression (how much of the measured opening the
12-channel expression explains: the proxy's own ceiling), the loudness predictor, amplitude and >6 Hz share ratios.
"""
import argparse
import os
import sys

import numpy as np
import torch

from _pack import load_pack  # bench/ is sys.path[0] when this file runs: siblings import

load_pack()
from comfyui_modit.modit.checkpoints import load_checkpoint  # noqa: E402
from comfyui_modit.modit.dit.checkpoint import load_dit  # noqa: E402
from comfyui_modit.modit.dit.sampling import (SamplingOptions, checkpoint_bias, sample_expression,  # noqa: E402
                                              take_back_guidance)
from comfyui_modit.modit.dit.schedule import NoiseSchedule  # noqa: E402
from comfyui_modit.modit.face.components import JAW_OPEN  # noqa: E402
from lipsync_ceiling import lagged_pearson, lagged_r  # noqa: E402  bench/ sibling

FPS = 25.0


def load_utterances(folder: str) -> list[dict]:
    """[{clip, features [T, 320], expression [T, 12], beta_0 [12], mouth [T], level [T]}] of a shard folder."""
    rows = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".safetensors"):
            continue
        t, _ = load_checkpoint(os.path.join(folder, name))
        start = 0
        for u, n in enumerate(t["lengths"].long().tolist()):
            sl = slice(start, start + n)
            start += n
            if n >= 25:
                rows.append({"clip": name[:-12], "features": t["features"][sl].float(),
                             "expression": t["expression"][sl].float(), "beta_0": t["beta_0"][u].float(),
                             "mouth": t["mouth_open"][sl].float().numpy(), "level": t["level_db"][sl].float().numpy()})
    return rows


def opening_map(train: list[dict]) -> tuple[np.ndarray, float]:
    """Least-squares (w, b): mouth opening ~ expression @ w + b over the train shards."""
    X = np.concatenate([u["expression"].numpy() for u in train])
    y = np.concatenate([u["mouth"] for u in train])
    A = np.concatenate([X, np.ones((len(X), 1))], axis=1)
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    return coef[:-1], float(coef[-1])


def high_frequency_share(x: np.ndarray) -> float:
    x = x - x.mean()
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / FPS)
    total = power[1:].sum()
    return float(power[freqs > 6.0].sum() / total) if total > 0 else 0.0


def clip_curves(utterances: list[dict], curves: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per clip, its utterances joined: (the curves, the measured openings)."""
    clips = {}
    for u, c in zip(utterances, curves):
        clips.setdefault(u["clip"], ([], []))
        clips[u["clip"]][0].append(c)
        clips[u["clip"]][1].append(u["mouth"])
    return [(np.concatenate(gen), np.concatenate(real)) for gen, real in clips.values()]


def by_clip(utterances: list[dict], curves: list[np.ndarray]) -> dict:
    """Mean over clips of r0, r1, std ratio, hf ratio of curves against the measured openings."""
    clips = clip_curves(utterances, curves)
    r0, r1, std, hf, early, late = [], [], [], [], [], []
    for g, r in clips:
        a, b = lagged_r(g, r)
        r0.append(a)
        r1.append(b)
        early.append(lagged_pearson(g, r, -1))  # generated t against real t + 1: the generated mouth one frame early
        late.append(lagged_pearson(g, r, 1))
        std.append(g.std() / max(r.std(), 1e-9))
        hf.append((high_frequency_share(g), high_frequency_share(r)))
    hf = np.mean(hf, axis=0)
    return {"r0": float(np.mean(r0)), "r1": float(np.mean(r1)), "r_early": float(np.mean(early)),
            "r_late": float(np.mean(late)), "std_ratio": float(np.mean(std)),
            "hf_ratio": float(hf[0] / max(hf[1], 1e-9)), "clips": len(clips)}


def score(model, info, val: list[dict], w: np.ndarray, b: float, guidance: float, seeds: int, steps: int = 10,
          phase_threshold: int = 500, slow_noise: float = 1.0) -> dict:
    """by_clip's figures for one DiT (eps_theta with the MoDiT data units) on the val utterances, mean over sampling
    seeds 0..seeds-1, each curve as MoDiT Sample Expression returns it (take_back_guidance: guidance's pull taken back
    from the course of all but the opening, the opening's peaks compressed) mapped to an opening by (w, b)."""
    schedule = NoiseSchedule(info.schedule)
    results = []
    for seed in range(seeds):
        options = SamplingOptions(num_steps=steps, guidance_scale=guidance, phase_threshold=phase_threshold, seed=seed,
                                  slow_noise=slow_noise, **checkpoint_bias(info.bias))
        curves = [take_back_guidance(sample_expression(model, schedule, u["features"], u["beta_0"], options),
                                     u["beta_0"], guidance, FPS, mouth=(JAW_OPEN,)).numpy() @ w + b
                  for u in val]
        results.append(by_clip(val, curves))
    return {k: float(np.mean([r[k] for r in results])) for k in results[0]}


def summary(s: dict) -> str:
    """One line of by_clip's (or score's) figures."""
    return (f"r0 {s['r0']:.3f}  r+-1 {s['r1']:.3f} (-1 {s['r_early']:.3f} +1 {s['r_late']:.3f})  "
            f"std x{s['std_ratio']:.2f}  >6Hz x{s['hf_ratio']:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*")
    parser.add_argument("--shards", default="/work/data/real/shards")
    parser.add_argument("--guidance", type=float, default=2.0, help="the default workflow's guidance_scale")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--phase-threshold", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--slow-noise", type=float, default=1.0,
                        help="share of the starting noise's slow part kept (the Sample Expression node's slow_noise)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train = load_utterances(os.path.join(args.shards, "train"))
    val = load_utterances(os.path.join(args.shards, "val"))
    w, b = opening_map(train)
    print(f"val: {len(val)} utterances; tracked expression through the map: "
          f"{summary(by_clip(val, [u['expression'].numpy() @ w + b for u in val]))}")
    print(f"loudness predictor: {summary(by_clip(val, [u['level'] for u in val]))}", flush=True)
    for path in args.checkpoints:
        model, info = load_dit(path)
        figures = score(model.eval(), info, val, w, b, args.guidance, args.seeds, args.steps, args.phase_threshold,
                        args.slow_noise)
        print(f"{os.path.basename(path):40s} {summary(figures)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
