"""`python -m modit_app train-opening`: train the mouth-opening regressor (modit/dit/opening_regressor.py) that MoDiT
Sample Expression blends into the slow part of the DiT's sampled mouth (its `opening_prior`).

    python -m modit_app data build --videos ../shared/data/talking --out /work/data/real
    python -m modit_app data featurise --shards /work/data/real --videos ../shared/data/talking \\
        --out /work/data/real_wa --encoder "built-in whisper base + mel" --av-offsets modit/train/real/av_offsets
    python -m modit_app train-opening --shards /work/data/real_wa --out modit/weights/opening_regressor_real.safetensors

Trains on the shards' train/ split only (speakers disjoint from val/, which the benches score) and prints the val
split's r (lag 0 / best of +-1, mean over clips) when there is one.
"""
import argparse
import logging
import os

import numpy as np
import torch

from ..modit.dit.opening_regressor import FEATURE_KIND, save_regressor
from ..modit.train.opening import load_shard_utterances, train_regressor
from .train_mouth import TERMS  # the same clips, the same terms

log = logging.getLogger(__name__)


def val_r(model, utterances: list[dict]) -> tuple[float, float]:
    """Mean over clips of (r at lag 0, best r of lags -1..+1), a clip's utterances joined."""
    clips = {}
    for u in utterances:
        pred, real = clips.setdefault(u["clip"], ([], []))
        pred.append(model.predict(u["features"]).numpy())
        real.append(u["mouth"].numpy())
    r0, r1 = [], []
    for pred, real in clips.values():
        p, m = np.concatenate(pred), np.concatenate(real)
        rs = [np.corrcoef(p[max(k, 0):len(p) + min(k, 0)], m[max(-k, 0):len(m) - max(k, 0)])[0, 1] for k in (-1, 0, 1)]
        r0.append(rs[1])
        r1.append(max(rs))
    return float(np.mean(r0)), float(np.mean(r1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modit_app train-opening", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", default="/work/data/real_wa", help="folder with train/ (and val/) shards of "
                                                                        f"{FEATURE_KIND!r} features")
    parser.add_argument("--out", required=True, help="checkpoint to write (.safetensors)")
    parser.add_argument("--members", type=int, default=4, help="ensemble members (seeds 0..members-1)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    train = load_shard_utterances(os.path.join(args.shards, "train"))
    log.info("train: %d utterances of %d clips", len(train), len({u["clip"] for u in train}))
    model = train_regressor(train, args.members, args.epochs)
    figures = {}
    val_folder = os.path.join(args.shards, "val")
    if os.path.isdir(val_folder):
        val = load_shard_utterances(val_folder)
        figures = dict(zip(("val_r_lag0", "val_r_best_of_1"), val_r(model, val)))
        log.info("val (%d clips, speakers unseen): r lag 0 %.3f, best of +-1 %.3f", len({u["clip"] for u in val}),
                 *figures.values())
    save_regressor(args.out, model.half(), {
        "license": TERMS, "data_terms": TERMS, **figures,
        "train_clips": sorted({u["clip"] for u in train}), "epochs": args.epochs,
        "command": "python -m modit_app train-opening " + " ".join(argv or [])})
    log.info("wrote %s", args.out)
    return 0
