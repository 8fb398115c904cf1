"""Is each real clip's sound in step with its picture? A lip-reading estimate of every clip's audio-visual offset.

Some clips in ../shared/data/talking peak far from lag 0 on the source MANIFEST's crude loudness scan (VidTIMIT fadg0
at -10 frames, HDTF Obama at -6). A clip whose sound runs ahead of or behind its picture teaches the DiT a blurred,
late mouth. This bench estimates each clip's offset with a predictor that never heard that speaker: the speakers are
split into folds; for each fold a small supervised regressor (bench/lipsync_ceiling.py's conv_ctx7) learns the mouth
opening from the shards' features on the other folds' clips, then the held-out clips' predicted and tracked openings
are cross-correlated over lags -MAX_LAG..+MAX_LAG. Several seeds' predictions are averaged.

    OMP_NUM_THREADS=2 python bench/av_offsets.py --shards /work/data/real_w [--folds 8 --seeds 4 --epochs 10]
    (--shards: a `data build` folder with train/ and val/, or a flat folder of `data extract` shards)
    ... --write modit/train/real/av_offsets   # also write the train clips' offsets for `data featurise --av-offsets`
    ... --shards real_wa --previous modit/train/real/av_offsets --write ...   # a second pass on shards featurised
                                                # with those offsets: what is left adds to them
    ... --ceiling          # instead: the same regressor trained on the train split, scored on val (r lag 0 / +-1)
    ... --write-val FILE   # the validation clips' offsets, by the same rule: for bench/real_motion.py --av-offsets

Lag convention (lagged_r's): lag > 0 pairs the prediction (the sound) at t + lag with the mouth at t, i.e. the sound
is late by `lag` frames; re-featurising with that offset reads the features of frame t + lag for frame t.
An offset is kept only where the best lag's r is clear (>= --min-r) and beats lag 0 by --min-gain; else 0. --write
writes train clips only: the validation clips stay as recorded, so the lip-sync benches measure against raw video;
--write-val gives their offsets separately, for a second, in-sync reading of those benches.
"""
import argparse
import os
import sys

import numpy as np
import torch

import lipsync_ceiling as ceiling  # bench/ is sys.path[0] when this file runs: siblings import
from _pack import load_pack

load_pack()
from comfyui_modit.modit.audio.normalization import center_utterance  # noqa: E402
from comfyui_modit.modit.data.featurise import read_offsets  # noqa: E402

MAX_LAG = 12
MEL_COLUMNS = 320


def featurizer(train: list[dict]):
    """mel80 part centred per utterance (as the DiT sees it); any further columns standardised with train statistics."""
    rest = torch.cat([u["features"][:, MEL_COLUMNS:] for c in train for u in c["utterances"]])
    if rest.shape[1] == 0:
        return lambda u: center_utterance(u["features"])
    mu, sd = rest.mean(0), rest.std(0).clamp_min(1e-3)
    return lambda u: torch.cat([center_utterance(u["features"][:, :MEL_COLUMNS]),
                                (u["features"][:, MEL_COLUMNS:] - mu) / sd], 1)


def ceiling_scores(train: list[dict], val: list[dict], seeds: int, epochs: int, opts: dict | None = None) -> np.ndarray:
    """[seeds, 2] (r lag 0, best of +-1) on val of the conv_ctx7 regressor (or `opts`) trained on train, per seed."""
    featurize = featurizer(train)
    opts = opts or ceiling.VARIANTS["conv_ctx7"]
    return np.array([ceiling.score(val, ceiling.train_conv(train, opts, seed, epochs, featurize=featurize))
                     for seed in range(seeds)])


def lag_curve(pred: np.ndarray, real: np.ndarray) -> dict[int, float]:
    return {lag: ceiling.lagged_pearson(pred, real, lag) for lag in range(-MAX_LAG, MAX_LAG + 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", default="/work/data/real_w")
    parser.add_argument("--folds", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--min-r", type=float, default=0.3, help="keep an offset only where r at the best lag >= this")
    parser.add_argument("--min-gain", type=float, default=0.1, help="... and it beats lag 0 by this much")
    parser.add_argument("--write", default=None, metavar="FILE",
                        help="write file<TAB>offset lines for the kept offsets")
    parser.add_argument("--write-val", default=None, metavar="FILE",
                        help="write the validation clips' kept offsets (never used for training)")
    parser.add_argument("--ceiling", action="store_true", help="only score the regressor trained on train, on val")
    parser.add_argument("--previous", default=None, metavar="FILE",
                        help="offsets the --shards were already featurised with: the written offsets add to them")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    train, val = ceiling.load_splits(args.shards)
    if not train and not val:  # a flat folder of `data extract` shards: every clip counts as a train clip
        train = ceiling.load_split(args.shards)
    for split, clips in (("train", train), ("val", val)):
        for clip in clips:
            clip["split"] = split
    if args.ceiling:  # how well the in-sync (or as-recorded) train clips predict the unseen val speakers' mouths
        if not val:
            raise SystemExit(f"{args.shards}: --ceiling needs a val/ folder of other speakers' shards")
        scores = ceiling_scores(train, val, args.seeds, args.epochs)
        mean, sd = np.mean(scores, axis=0), np.std(scores, axis=0)
        print(f"ceiling on val ({len(val)} clips, {args.seeds} seeds): r lag 0 {mean[0]:.3f} (sd {sd[0]:.3f}), "
              f"best of +-1 {mean[1]:.3f} (sd {sd[1]:.3f})")
        return 0
    clips = train + val
    if len({c["speaker"] for c in clips}) < args.folds:
        raise SystemExit(f"{args.shards}: fewer speakers than --folds {args.folds}; give more clips or fewer folds")
    ids = sorted({c["speaker"] for c in clips})
    rng = np.random.default_rng(0)
    fold_of = {s: i % args.folds for i, s in enumerate(rng.permutation(ids))}
    rows = []
    for fold in range(args.folds):
        held = [c for c in clips if fold_of[c["speaker"]] == fold]
        rest = [c for c in clips if fold_of[c["speaker"]] != fold]
        featurize = featurizer(rest)
        predictors = [ceiling.train_conv(rest, ceiling.VARIANTS["conv_ctx7"], seed, args.epochs, featurize=featurize)
                      for seed in range(args.seeds)]
        for clip in held:
            pred = np.mean([np.concatenate([f(u) for u in clip["utterances"]]) for f in predictors], axis=0)
            real = np.concatenate([u["mouth"].numpy() for u in clip["utterances"]])
            curve = lag_curve(pred, real)
            best = max(curve, key=curve.get)
            rows.append((clip, best, curve[best], curve[0], len(real)))
        print(f"fold {fold + 1}/{args.folds}: {len(held)} clips held out", flush=True)
    kept, history, val_kept = {}, [], {}
    if args.previous:  # read before --write (which may be the same file) is opened
        kept = read_offsets(args.previous)
        with open(args.previous, encoding="utf-8") as previous:
            history = [line for line in previous if line.startswith("# Written by")]
    print(f"{'clip':58s} {'split':5s} {'frames':>6s} {'best lag':>8s} {'r there':>7s} {'r lag 0':>7s}  offset")
    for clip, best, r_best, r0, frames in sorted(rows, key=lambda r: (r[0]["split"], r[0]["name"])):
        offset = best if (r_best >= args.min_r and r_best - r0 >= args.min_gain) else 0
        if offset and clip["split"] == "train":
            kept[clip["name"]] = kept.get(clip["name"], 0) + offset
        elif offset:
            val_kept[clip["name"]] = offset
        print(f"{clip['name']:58s} {clip['split']:5s} {frames:6d} {best:+8d} {r_best:7.3f} {r0:7.3f}  {offset:+d}")
    print(f"train clips with an offset: {len(kept)} of {sum(1 for r in rows if r[0]['split'] == 'train')} train clips")
    if args.write:
        write_offsets(args.write, kept, history)
    if args.write_val:
        write_offsets(args.write_val, val_kept, [])
    return 0


def write_offsets(path: str, offsets: dict, history: list[str]) -> None:
    with open(path, "w") as f:
        f.write("# Audio-visual offsets in frames (bench/av_offsets.py): the sound is late by this many frames; "
                "`data featurise --av-offsets` reads frame t + offset's features for frame t.\n")
        f.writelines(history)  # the earlier passes' commands
        f.write("# Written by: python bench/av_offsets.py " + " ".join(sys.argv[1:]) + "\n")
        f.write("file\toffset\n")
        for name, offset in sorted(offsets.items()):
            if offset:
                f.write(f"{name}\t{offset}\n")


if __name__ == "__main__":
    sys.exit(main())
