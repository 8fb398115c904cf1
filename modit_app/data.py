"""python -m modit_app data extract VIDEOS... --out DIR [--fps 25] [--manifest M]
   python -m modit_app data build --videos FOLDER --out DIR [--manifest M] [--split train|val] [--ready FILE]
   python -m modit_app data featurise --shards DIR --videos FOLDER --out DIR2 [--encoder "built-in whisper base + mel"]
        [--av-offsets modit/train/real/av_offsets [modit/train/real/av_offsets_more]]
   python -m modit_app data silence --like DIR2/train --out SILENCE [--count 64] [--encoder ...]

extract: each video -> DIR/<name>.safetensors (+ .json report, meshes/); provenance from the manifest when the file
is listed there. build: every clip of the manifest found in FOLDER -> DIR/<split>/, then a summary (DIR/summary.json
and, with --ready, a one-line text file). Both resume: finished clips are skipped. featurise: every shard under DIR
-> the same shard under DIR2 with another audio encoder's features (modit/data/featurise.py); faces are not tracked
again. Resumes too. silence: one shard of silent utterances whose expression stays at a real source's
(modit/data/silence.py), to mix into training.
"""
import argparse
import json
import logging
import os
import time

from ..modit.data import manifest as manifest_io


def _summary(reports: list[dict], fps: float) -> dict:
    out = {}
    for split in sorted({r.get("split", "unspecified") for r in reports}):
        chosen = [r for r in reports if r.get("split", "unspecified") == split]
        frame_gates, segment_gates, clip_gates = {}, {}, {}
        for r in chosen:
            for k, v in r.get("frame_gates", {}).items():
                frame_gates[k] = frame_gates.get(k, 0) + v
            for k, v in r.get("segment_gates", {}).items():
                segment_gates[k] = segment_gates.get(k, 0) + v
            if r.get("clip_gate"):
                clip_gates[r["clip_gate"]] = clip_gates.get(r["clip_gate"], 0) + 1
        frames = sum(r.get("frames", 0) for r in chosen)
        kept = sum(r.get("kept_frames", 0) for r in chosen)
        wall = sum(r.get("wall_seconds", 0) for r in chosen)
        out[split] = {"clips": len(chosen), "clips_kept": sum(1 for r in chosen if r.get("kept_frames", 0)),
                      "frames": frames, "kept_frames": kept, "kept_minutes": round(kept / fps / 60, 2),
                      "utterances": sum(r.get("utterances", 0) for r in chosen),
                      "speakers": len({r.get("speaker") for r in chosen if r.get("kept_frames", 0)}),
                      "frame_gates": frame_gates, "segment_gates": segment_gates, "clip_gates": clip_gates,
                      "seconds_per_frame": round(wall / frames, 4) if frames else None}
    return out


def _featurise(args) -> int:
    from ..modit.audio.encoder import AudioEncoder
    from ..modit.data.featurise import featurise_shard, read_offsets, shard_files

    encoder = AudioEncoder.load(args.encoder, "fp32")
    offsets = {}
    for path in args.av_offsets or ():
        for name, frames in read_offsets(path).items():
            if offsets.get(name, frames) != frames:
                raise SystemExit(f"{path}: {name} is {frames} frames here and {offsets[name]} in an earlier "
                                 f"--av-offsets file; keep one line per clip")
            offsets[name] = frames
    started, done = time.time(), 0
    shards = shard_files(args.shards)
    unmatched = sorted(set(offsets) - {os.path.splitext(os.path.basename(r))[0] for r in shards})
    if unmatched:
        logging.warning("%s: offsets for clips with no shard under %s (ignored): %s", " ".join(args.av_offsets),
                        args.shards, ", ".join(unmatched))
    for relative in shards:
        out = os.path.join(args.out, relative)
        if os.path.isfile(out) and not args.force:
            continue
        name = os.path.splitext(os.path.basename(relative))[0]
        featurise_shard(os.path.join(args.shards, relative), args.videos, out, encoder, offsets.get(name, 0))
        done += 1
    print(f"featurised {done} shards into {args.out} with {encoder.kind} ({time.time() - started:.0f} s)")
    return 0


def _silence(args) -> int:
    from ..modit.audio.encoder import AudioEncoder
    from ..modit.data.silence import write_silence_shard

    encoder = AudioEncoder.load(args.encoder, "fp32")
    out = os.path.join(args.out, "silence.safetensors")
    summary = write_silence_shard(args.like, out, encoder, args.count, args.seconds, seed=args.seed)
    print(f"wrote {out}: {summary['utterances']} silent utterances, {summary['frames']} frames ({encoder.kind})")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modit_app data", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    extract = sub.add_parser("extract", help="extract the given videos into one folder")
    extract.add_argument("videos", nargs="+")
    build = sub.add_parser("build", help="extract every manifest clip found in a folder, by split")
    build.add_argument("--videos", required=True, help="local folder holding the manifest's files")
    build.add_argument("--split", choices=manifest_io.SPLITS, help="only this split (default: both)")
    build.add_argument("--ready", help="write a one-line summary to this file when done")
    build.add_argument("--reverse", action="store_true",
                       help="walk the manifest from its end: a second worker started this way meets the first in the "
                            "middle (each skips what the other finished)")
    featurise = sub.add_parser("featurise", help="recompute the audio features of extracted shards")
    featurise.add_argument("--shards", required=True, help="folder of extracted shards (walked recursively)")
    featurise.add_argument("--videos", required=True, help="local folder holding the shards' clips")
    featurise.add_argument("--out", required=True)
    featurise.add_argument("--encoder", default="built-in whisper base + mel",
                           help="an entry of MoDiT Load Audio Encoder's list")
    featurise.add_argument("--av-offsets", default=None, nargs="+", metavar="FILE",
                           help="per-clip audio-visual offsets in frames, one or more files "
                                "(modit/train/real/av_offsets, written by bench/av_offsets.py; av_offsets_more for "
                                "manifest_more's clips): frame t takes frame t + offset's features")
    featurise.add_argument("--force", action="store_true", help="redo shards that already exist under --out")
    featurise.add_argument("--threads", type=int, default=1, help="torch threads")
    silence = sub.add_parser("silence", help="silent utterances that keep real sources' expressions")
    silence.add_argument("--like", required=True, help="real train shards: sources and metadata come from them")
    silence.add_argument("--out", required=True, help="folder for silence.safetensors")
    silence.add_argument("--count", type=int, default=64)
    silence.add_argument("--seconds", type=float, default=4.0)
    silence.add_argument("--seed", type=int, default=0)
    silence.add_argument("--encoder", default="built-in whisper base + mel")
    silence.add_argument("--threads", type=int, default=1, help="torch threads")
    for p in (extract, build):
        p.add_argument("--out", required=True)
        p.add_argument("--fps", type=float, default=25.0)
        p.add_argument("--manifest", default=manifest_io.MANIFEST)
        p.add_argument("--min-seconds", type=float, default=2.0, help="shortest utterance kept")
        p.add_argument("--force", action="store_true", help="redo clips that are already extracted")
        p.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in ("modit.audio", "comfyui_modit.modit.audio"):
        logging.getLogger(name).setLevel(logging.WARNING)

    import torch

    if args.command in ("featurise", "silence"):
        torch.set_num_threads(args.threads)
        return _featurise(args) if args.command == "featurise" else _silence(args)

    from ..modit.data.extract import extract_clip
    from ..modit.data.tracking import FaceTracker

    torch.set_num_threads(args.threads)
    rows = manifest_io.read(args.manifest) if os.path.isfile(args.manifest) else []
    manifest_io.check_split(rows)
    listed = manifest_io.by_file(rows)
    if args.command == "extract":
        jobs = [(path, args.out, manifest_io.provenance(listed[os.path.basename(path)])
                 if os.path.basename(path) in listed else {}) for path in args.videos]
    else:
        jobs = []
        for row in rows:
            if args.split and row["split"] != args.split:
                continue
            path = os.path.join(args.videos, row["file"])
            if not os.path.isfile(path):
                logging.warning("%s: not in %s, skipped", row["file"], args.videos)
                continue
            jobs.append((path, os.path.join(args.out, row["split"]), manifest_io.provenance(row)))
        if args.reverse:
            jobs.reverse()
    tracker = FaceTracker()
    reports, started = [], time.time()
    for n, (path, out, provenance) in enumerate(jobs, 1):
        os.makedirs(out, exist_ok=True)
        logging.info("[%d/%d] %s", n, len(jobs), os.path.basename(path))
        reports.append(extract_clip(path, out, args.fps, provenance, tracker, args.min_seconds, force=args.force))
    summary = _summary(reports, args.fps)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    line = "; ".join(f"{split}: {s['clips_kept']}/{s['clips']} clips, {s['kept_frames']}/{s['frames']} frames, "
                     f"{s['kept_minutes']} min kept, {s['utterances']} utterances, {s['speakers']} speakers"
                     for split, s in summary.items())
    line += f" ({args.fps:g} fps, {time.time() - started:.0f} s wall)"
    logging.info("done: %s", line)
    if args.command == "build" and args.ready:
        with open(args.ready + ".partial", "w") as f:
            f.write(line + "\n")
        os.replace(args.ready + ".partial", args.ready)
    print(line)
    return 0

