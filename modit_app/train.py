"""`python -m modit_app train`: train a MoDiT DiT on corpus shards (see modit/train/data.py for the format).

    python -m modit_app train --data corpus/ [real/train/ --mix 0.5 0.5] --preset embedded --steps 20000 --batch-size 64 \
        --out modit_embedded_v1.safetensors --seed 0 [--device cuda] [--resume]
    torchrun --nproc_per_node 4 -m modit_app train ...   # DistributedDataParallel, one process per GPU
"""
import argparse
import logging
import os
import sys

import torch


def _parser() -> argparse.ArgumentParser:
    from ..modit.dit.presets import PRESETS
    from ..modit.train.loop import TrainOptions

    defaults = TrainOptions()
    p = argparse.ArgumentParser(prog="python -m modit_app train", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, nargs="+", help="directories of *.safetensors corpus shards (several: "
                   "trained on together, e.g. the synthetic corpus and real shards)")
    p.add_argument("--mix", type=float, nargs="+", default=None, help="share of windows drawn from each --data "
                   "directory (default: in proportion to their frames)")
    p.add_argument("--init", default=None, help="start from this DiT checkpoint's weights (fine-tuning)")
    p.add_argument("--relative-motion", action="store_true", help="diffuse the motion relative to beta_0 "
                   "(keeps the source's own expression; issue 14)")
    p.add_argument("--audio-norm", default="global", choices=("global", "utterance"),
                   help="utterance: remove each utterance's feature mean first (carries over to recorded voices)")
    p.add_argument("--utterance-norm-columns", type=int, default=None, metavar="N",
                   help="--audio-norm utterance centres only the first N feature columns (default: the mel80 part of "
                        "'mel80+whisper4' features, all columns of other kinds)")
    p.add_argument("--self-attention-bias", action="store_true", help="Algorithm 1's bias M on the self-attention "
                   "over frames as well as on the audio cross-attention")
    p.add_argument("--preset", default="embedded", choices=sorted(PRESETS))
    p.add_argument("--steps", type=int, default=defaults.steps, help="total optimiser steps")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="windows per step (per GPU)")
    p.add_argument("--lr", type=float, default=defaults.learning_rate)
    p.add_argument("--warmup", type=int, default=defaults.warmup_steps)
    p.add_argument("--ema-decay", type=float, default=defaults.ema_decay)
    p.add_argument("--out", required=True, help="checkpoint to write (.safetensors)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (torchrun sets one GPU per rank)")
    p.add_argument("--resume", action="store_true", help="continue from <out> and <out>.train.pt")
    p.add_argument("--phase-threshold", type=int, default=defaults.phase_threshold, help="t_T of Algorithm 1")
    p.add_argument("--window", type=int, default=None, help="override the preset's training window (frames)")
    p.add_argument("--log-every", type=int, default=defaults.log_every)
    p.add_argument("--save-every", type=int, default=defaults.save_every)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--mouth-loss", type=float, default=0.0, metavar="GAIN",
                   help="add L_lks on the mouth opening read out of the expression (mouth_readout.py), fitted on the "
                        "--data folders whose shards store mouth_open; weight 0.1 * GAIN^2 (0: off)")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    from ..modit.audio.encoder import UTTERANCE_NORM_COLUMNS
    from ..modit.train.data import ShardDataset
    from ..modit.train.loop import TrainOptions, train

    if not args.out.endswith(".safetensors"):
        raise SystemExit(f"--out {args.out!r}: expected a .safetensors file name")
    options = TrainOptions(steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr,
                           warmup_steps=args.warmup, ema_decay=args.ema_decay, seed=args.seed,
                           log_every=args.log_every, save_every=args.save_every,
                           phase_threshold=args.phase_threshold)
    overrides = {"relative_motion": args.relative_motion, "audio_norm": args.audio_norm,
                 "self_attention_bias": args.self_attention_bias}
    if args.window:
        overrides["window"] = args.window
    dataset = ShardDataset(args.data, args.mix)
    columns = args.utterance_norm_columns
    if columns is None:
        columns = UTTERANCE_NORM_COLUMNS.get(dataset.metadata["feature_kind"], 0)
    overrides["utterance_norm_columns"] = columns
    decode = None
    if args.mouth_loss:
        from ..modit.train.mouth_readout import MouthReadout, fit_mouth_readout

        weights, _, opening_std = fit_mouth_readout(args.data)
        std = dataset.statistics(args.relative_motion)["expression_std"]
        decode = MouthReadout(weights, std, opening_std, args.mouth_loss)
    train(dataset, args.preset, os.path.abspath(args.out), options, device=args.device,
          resume=args.resume, config_overrides=overrides, init=args.init, decode=decode)
    return 0
