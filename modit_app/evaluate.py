"""`python -m modit_app evaluate`: held-out lip-sync figures of a DiT checkpoint (modit/train/evaluate.py).

    python -m modit_app evaluate --checkpoint modit/weights/modit_embedded_v1.safetensors [--guidance-scale 1]

Logs r and lag per held-out voice, and prints the whole report as one JSON line on stdout (what
`python -m modit_app ship --evaluation NAME=FILE` reads).
"""
import argparse
import json
import logging

import torch

from ..modit.dit.sampling import SamplingOptions
from ..modit.train.evaluate import dit_predictor, evaluate

log = logging.getLogger(__name__)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modit_app evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--sampler", default="ddim")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--guidance-scale", type=float, default=2.0,
                        help="classifier-free guidance w (1 = off; 2 = v1's recommended setting; the node defaults to 2.5)")
    parser.add_argument("--augment", action="store_true", help="evaluate on augmented (noisy, reverberant) audio")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("modit.audio", "comfyui_modit.modit.audio"):  # no per-utterance audio lines
        logging.getLogger(name).setLevel(logging.WARNING)
    torch.set_num_threads(1)
    options = SamplingOptions(sampler=args.sampler, num_steps=args.steps, seed=args.seed,
                              guidance_scale=args.guidance_scale)
    report = evaluate(dit_predictor(args.checkpoint, options), args.augment)
    for voice, figures in report.items():
        log.info("%-26s r %.3f (min %.3f)  lag %+d", voice, figures["r"], figures["r_min"], figures["lag"])
    print(json.dumps(report))  # the machine-readable result on stdout
    return 0
