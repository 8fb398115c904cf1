"""How far the DiT's mouth sits from its reference in speech, for a closed, the first and an open reference (issue 15).

A portrait whose lips are together should open in speech as far as the speaker opens from rest; one caught mid-word
should close about as often as it opens. For each utterance of the speaker-disjoint val shards the DiT is sampled
(as MoDiT Sample Expression samples it: guidance 2.5, slow_noise 0, guidance's pull taken back) three times, with
beta_0 set to the utterance's own expression at three frames: its mouth at rest (the 5th percentile of the measured
opening), its first frame, and its mouth open (the 85th percentile). Through lipsync_proxy's linear map the sampled
expression becomes an opening; printed per reference is the median over utterances of the mean opening in speech
(frames louder than the utterance's 30th percentile) minus the reference's own, for the DiT and for the real
speaker, and the slope of the first against the second over all three references (1: the DiT reads how open its
reference is as the speakers do; 0: it moves the same amount whatever the reference).

    OMP_NUM_THREADS=2 python bench/reference_level.py --shards /work/data/real_wa [CHECKPOINT ...]   # 1 min each

Without checkpoints it scores the bundled default DiT. The shards: modit/train/README.md ("Reproduce v4").
"""
import argparse
import os
import sys

import numpy as np
import torch

import lipsync_proxy as proxy  # bench/ is sys.path[0] when this file runs: siblings import (it loads the pack)
from comfyui_modit.modit.dit.checkpoint import load_dit  # noqa: E402
from comfyui_modit.modit.dit.sampling import (SamplingOptions, checkpoint_bias, sample_expression,  # noqa: E402
                                              take_back_guidance)
from comfyui_modit.modit.dit.schedule import NoiseSchedule  # noqa: E402
from comfyui_modit.modit.face.components import JAW_OPEN  # noqa: E402

DEFAULT_DIT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "modit", "weights",
                           "modit_embedded_v5_more.safetensors")
REFERENCES = (("rest", 0.05), ("first", None), ("open", 0.85))  # quantile of the utterance's measured opening
GUIDANCE = 2.5


def reference_frames(mouth: np.ndarray) -> dict[str, int]:
    order = np.argsort(mouth)
    return {name: 0 if q is None else int(order[int(q * len(mouth))]) for name, q in REFERENCES}


def offsets(path: str, val: list[dict], w: np.ndarray, b: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{reference: (the DiT's mean opening in speech minus the reference's, the speaker's), one value per utterance}."""
    model, info = load_dit(path)
    model.eval()
    schedule = NoiseSchedule(info.schedule)
    options = SamplingOptions(num_steps=10, guidance_scale=GUIDANCE, phase_threshold=500, seed=0, slow_noise=0.0,
                              **checkpoint_bias(info.bias))
    found = {name: ([], []) for name, _ in REFERENCES}
    for u in val:
        speech = u["level"] > np.percentile(u["level"], 30)
        for name, frame in reference_frames(u["mouth"]).items():
            beta_0 = u["expression"][frame]
            sampled = take_back_guidance(sample_expression(model, schedule, u["features"], beta_0, options), beta_0,
                                         GUIDANCE, proxy.FPS, mouth=(JAW_OPEN,))
            opening = sampled.numpy() @ w + b
            found[name][0].append(opening[speech].mean() - (beta_0.numpy() @ w + b))
            found[name][1].append(u["mouth"][speech].mean() - u["mouth"][frame])
    return {name: (np.array(g), np.array(r)) for name, (g, r) in found.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*", default=[DEFAULT_DIT])
    parser.add_argument("--shards", default="/work/data/real_wa", help="shards with train/ and val/ (mouth_open)")
    args = parser.parse_args()
    train = proxy.load_utterances(os.path.join(args.shards, "train"))
    val = proxy.load_utterances(os.path.join(args.shards, "val"))
    w, b = proxy.opening_map(train)
    print(f"{len(val)} val utterances; opening in speech minus the reference's (median), DiT / speaker")
    for path in args.checkpoints:
        found = offsets(path, val, w, b)
        generated = np.concatenate([g for g, _ in found.values()])
        real = np.concatenate([r for _, r in found.values()])
        cells = [f"{name} {np.median(g):+.3f} / {np.median(r):+.3f}" for name, (g, r) in found.items()]
        print(f"{os.path.basename(path):40s} " + " | ".join(cells) + f" | slope {np.polyfit(real, generated, 1)[0]:.2f}",
              flush=True)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    sys.exit(main())
