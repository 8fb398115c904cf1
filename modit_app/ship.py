"""Ship a trained DiT as the bundled checkpoint: same weights, plus metadata saying how to reproduce it.

    python -m modit_app ship --checkpoint run/modit_embedded_v1.safetensors --corpus corpus/ \
        --train-command "python -m modit_app train ..." --evaluation guidance_1=eval.json \
        --out modit/weights/modit_embedded_v1.safetensors

Adds to the DiT metadata (modit/dit/checkpoint.py keeps its own keys untouched):
  corpus      {"seed", "utterances", "shards", "minutes", "command"}: the corpus the weights were trained on
  training    {"command", "checkpoint_step"}: the exact `python -m modit_app train` call, and the step whose save
              was shipped (the run may have been stopped before its last step)
  evaluation  {name: held-out report of modit/train/evaluate.py (r and lag per held-out voice)}, if given
  recommended_sampling  {"guidance_scale"}: the setting with the best held-out figures, if given
  license     "Apache-2.0"
"""
import argparse
import glob
import json
import os

from ..modit.checkpoints import load_checkpoint, save_checkpoint

PROG = "python -m modit_app ship"


def corpus_summary(directory: str) -> dict:
    paths = sorted(glob.glob(os.path.join(directory, "shard-*.safetensors")))
    if not paths:
        raise FileNotFoundError(f"{directory}: no shard-*.safetensors corpus shards; run "
                                f"`python -m modit_app corpus --out {directory}` first")
    utterances, frames, seed, fps = 0, 0, None, None
    for path in paths:
        tensors, metadata = load_checkpoint(path)
        utterances += int(tensors["lengths"].shape[0])
        frames += int(tensors["lengths"].sum())
        seed, fps = metadata.get("corpus_seed"), float(metadata["fps"])
    return {"seed": seed, "utterances": utterances, "shards": len(paths), "minutes": round(frames / fps / 60, 1),
            "command": f"python -m modit_app corpus --out {os.path.basename(os.path.normpath(directory))} "
                       f"--seed {seed} --utterances {utterances}"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="the DiT that python -m modit_app train wrote")
    parser.add_argument("--corpus", required=True, help="the corpus directory it was trained on")
    parser.add_argument("--train-command", required=True)
    parser.add_argument("--evaluation", action="append", default=[], metavar="NAME=PATH",
                        help="a JSON report printed by python -m modit_app evaluate, under NAME (repeatable)")
    parser.add_argument("--recommended-guidance", type=float, default=None,
                        help="the guidance_scale that gives this checkpoint's best held-out lip sync")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    state_dict, metadata = load_checkpoint(args.checkpoint)
    metadata = dict(metadata)
    metadata["corpus"] = corpus_summary(args.corpus)
    # The loop saves the EMA weights every --save-every steps; a run stopped early ships the save of
    # `checkpoint_step` (num_train_steps), which the same command reproduces at that step.
    metadata["training"] = {"command": args.train_command, "checkpoint_step": int(metadata["num_train_steps"])}
    reports = {}
    for entry in args.evaluation:
        name, _, path = entry.partition("=")
        with open(path) as f:
            reports[name] = json.loads(f.read().strip().splitlines()[-1])
    if reports:
        metadata["evaluation"] = reports
    if args.recommended_guidance is not None:
        metadata["recommended_sampling"] = {"guidance_scale": args.recommended_guidance}
    metadata["license"] = "Apache-2.0"
    save_checkpoint(args.out, state_dict, metadata)
    return 0
