"""`python -m modit_app corpus`: generate the synthetic eSpeak corpus that trains the embedded DiT.

    python -m modit_app corpus --out corpus/ --seed 6 --utterances 4000

See modit/train/corpus/generate.py for what an utterance is made of and the two resumable stages.
"""
import argparse
import logging

import torch

from ..modit.train.corpus.generate import generate_corpus


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modit_app corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="corpus directory (training shards go here)")
    parser.add_argument("--seed", type=int, default=6, help="corpus seed: same seed, same corpus")
    parser.add_argument("--utterances", type=int, default=4000)
    parser.add_argument("--shard-size", type=int, default=250)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--raw-only", action="store_true", help="stop after stage 1 (no audio features)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for name in ("modit.audio", "comfyui_modit.modit.audio"):  # one line per utterance otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    torch.set_num_threads(1)
    generate_corpus(args.out, args.seed, args.utterances, args.shard_size, args.workers, args.raw_only)
    return 0
