"""Ship a DiT trained on synthetic + real talking-head shards as a bundled checkpoint: same weights, plus metadata
that names the data, its terms, the exact commands and the real-speaker validation figures (modit/train/README.md).

    python -m modit_app ship-real --checkpoint run/modit_v2.safetensors --synthetic corpus --real real/train \
        --command "python -m modit_app train ..." [--command ...] --bench run/bench_v2.json \
        --out modit/weights/modit_embedded_v2_real.safetensors
    python -m modit_app ship-real --checkpoint run/v3.safetensors --inherit modit/weights/modit_embedded_v2_real.safetensors \
        --real real_w/train --command "..." --display-name "embedded v3 (...)" --half --out modit/weights/...

--inherit names the checkpoint this one was fine-tuned from: its corpus, real data and commands come first in the
new file's history (`inherited_from`), so --synthetic may be left out. --half stores the weights in float16 (the
loader computes in float32); the bench figures must be measured on the shipped file.

Adds to the DiT metadata (modit/dit/checkpoint.py keeps its own keys untouched):
  display_name  the Load DiT dropdown name (says research use)
  license       "research use only" and why; data_terms: the terms of the footage the weights learned from
  corpus        the synthetic corpus summary (as modit_app/ship.py writes it)
  real_data     {"clips", "speakers", "minutes", "split", "manifest", "command"}: the real shards trained on, with
                the audio-visual offsets their features were corrected by (av_offsets_frames), if any
  training      {"commands": [one per stage, in order], "checkpoint_step"}
  evaluation    {"real_validation": bench/real_motion.py's per-clip rows and summary}, if given
  recommended_sampling  {"guidance_scale"}, if given
"""
import argparse
import glob
import json
import os

from ..modit.checkpoints import load_checkpoint, save_checkpoint
from .ship import corpus_summary

PROG = "python -m modit_app ship-real"

DISPLAY_NAME = "embedded v2 (real speech, research use)"
LICENSE = ("research use only: these weights were trained on real talking-head clips whose terms are research use "
           "(HDTF, VoxCeleb2, LRS2, MEAD, VidTIMIT footage; see modit/train/real/manifest and NOTICE). The code is "
           "Apache-2.0; the eSpeak-only modit_embedded_v1.safetensors is the permissive choice.")
REAL_COMMAND = "python -m modit_app data build --videos ../shared/data/talking --out real"


def _clip(path: str) -> str:
    """A shard's clip name: its file name without .safetensors."""
    return os.path.basename(path)[:-len(".safetensors")]


def real_summary(directory: str, clips_used: list[str] | None = None, manifests: list[str] | None = None) -> dict:
    """Clips, speakers, minutes and terms of the real shards trained on (all of `directory`, or the named clips);
    manifests: the manifest files that list them (default: modit/train/real/manifest alone)."""
    paths = sorted(glob.glob(os.path.join(directory, "*.safetensors")))
    if clips_used:
        paths = [p for p in paths if _clip(p) in set(clips_used)]
    if not paths:
        raise FileNotFoundError(f"{directory}: no real shards; run `{REAL_COMMAND}` first")
    speakers, frames, fps, terms, offsets = set(), 0, 25.0, set(), {}
    for path in paths:
        tensors, metadata = load_checkpoint(path)
        speakers.add(metadata.get("speaker", os.path.basename(path)))
        if int(metadata.get("av_offset_frames", 0)):  # re-featurised in sync (data featurise --av-offsets)
            offsets[_clip(path)] = int(metadata["av_offset_frames"])
        frames += int(tensors["lengths"].sum())
        fps = float(metadata["fps"])
        terms.add(metadata.get("terms", "unknown"))
    summary = {"clips": len(paths), "speakers": len(speakers), "minutes": round(frames / fps / 60, 1),
               "split": "train", "manifest": "modit/train/real/manifest", "command": REAL_COMMAND,
               "terms": sorted(terms)}
    if manifests and manifests != [summary["manifest"]]:
        summary["manifests"] = list(manifests)
    if clips_used:
        summary["clips_used"] = sorted(clips_used)
    if offsets:
        summary["av_offsets_frames"] = offsets
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--synthetic", default=None, help="the synthetic corpus directory (or --inherit)")
    parser.add_argument("--inherit", default=None, help="the shipped checkpoint this one was fine-tuned from")
    parser.add_argument("--display-name", default=DISPLAY_NAME, help="the Load DiT dropdown name")
    parser.add_argument("--half", action="store_true", help="store float16 weights")
    parser.add_argument("--real", required=True, help="the real train shard directory")
    parser.add_argument("--command", action="append", required=True, help="a training command, in stage order")
    parser.add_argument("--bench", default=None, help="bench/real_motion.py --json output for this checkpoint")
    parser.add_argument("--recommended-guidance", type=float, default=None)
    parser.add_argument("--clips-used", nargs="+", default=None, help="the real clips the run saw (default: all)")
    parser.add_argument("--manifest", action="append", default=None,
                        help="a manifest listing the real clips (repeatable; default modit/train/real/manifest)")
    parser.add_argument("--terms", default=LICENSE,
                        help="the licence line: 'research use only: <the data's terms>' (default: the main clips')")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if not args.synthetic and not args.inherit:
        raise SystemExit("give --synthetic (the corpus trained on) or --inherit (the checkpoint fine-tuned from)")
    state_dict, metadata = load_checkpoint(args.checkpoint)
    metadata = dict(metadata)
    if not args.terms.startswith("research use only: "):
        raise SystemExit("--terms must start with 'research use only: ' (the weights learned from research-use footage)")
    metadata.update(display_name=args.display_name, license=args.terms, data_terms=args.terms.split(": ", 1)[1],
                    real_data=real_summary(args.real, args.clips_used, args.manifest),
                    training={"commands": list(args.command), "checkpoint_step": int(metadata["num_train_steps"])})
    if args.synthetic:
        metadata["corpus"] = corpus_summary(args.synthetic)
    if args.inherit:
        _, parent = load_checkpoint(args.inherit)
        metadata["inherited_from"] = {"file": os.path.basename(args.inherit),
                                      **{k: parent[k] for k in ("display_name", "corpus", "real_data", "training",
                                                                "feature_kind") if k in parent}}
    if args.half:
        state_dict = {k: v.half() if v.is_floating_point() else v for k, v in state_dict.items()}
    if args.bench:
        with open(args.bench) as f:
            metadata["evaluation"] = {"real_validation": json.load(f)}
    if args.recommended_guidance is not None:
        metadata["recommended_sampling"] = {"guidance_scale": args.recommended_guidance}
    save_checkpoint(args.out, state_dict, metadata)
    print(f"wrote {args.out}")
    return 0
