"""`python -m modit_app train-blink`: train the blink mapping net (modit/train/blink_training.py) on motion tracks.

    python -m modit_app train-blink --tracks DIR_OR_FILES... --out models/modit/blink_mapping.safetensors
"""
import argparse
import logging
import os

import torch

from ..modit.blink.mapping_net import PRESETS, save_mapping_net
from ..modit.motion.track_files import load_motion
from ..modit.train.blink_training import BlinkTrainingConfig, train_mapping_net

log = logging.getLogger(__name__)


def _track_files(paths: list[str]) -> list[str]:
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".safetensors"))
        else:
            files.append(path)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modit_app train-blink",
                                     description="Train the MoDiT blink mapping net on motion tracks.")
    parser.add_argument("--tracks", nargs="+", required=True, help="motion .safetensors files or folders of them")
    parser.add_argument("--out", required=True, help="checkpoint to write, e.g. models/modit/blink_mapping.safetensors")
    parser.add_argument("--preset", default="base", choices=sorted(PRESETS))
    parser.add_argument("--steps", type=int, default=BlinkTrainingConfig.steps)
    parser.add_argument("--batch-size", type=int, default=BlinkTrainingConfig.batch_size)
    parser.add_argument("--lr", type=float, default=BlinkTrainingConfig.learning_rate)
    parser.add_argument("--velocity-weight", type=float, default=BlinkTrainingConfig.velocity_weight)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    tracks = [load_motion(path) for path in _track_files(args.tracks)]
    net_config = PRESETS[args.preset](num_coefficients=tracks[0].expression.shape[1]) if tracks else None
    config = BlinkTrainingConfig(steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr,
                                 velocity_weight=args.velocity_weight, seed=args.seed)
    net, history = train_mapping_net(tracks, net_config, config, device=args.device)
    save_mapping_net(args.out, net, space=tracks[0].space, fps=tracks[0].fps,
                     extra={"steps": args.steps, "final_loss": history[-1] if history else None,
                            "num_tracks": len(tracks), "num_frames": sum(t.num_frames for t in tracks)})
    log.info("wrote %s (final loss %.5f)", args.out, history[-1] if history else float("nan"))
    return 0
