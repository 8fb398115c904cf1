"""Swap a shard's audio features for another encoder's, without tracking the faces again (issue 14).

A shard (extract.py) keeps the output frame of each row (`frame_index`) and its clip's frame count (`clip_frames`), so
the features of any encoder can be recomputed from the clip's sound: the whole clip is encoded through the Encode
Audio node's path (extract.audio_features), exactly as a user's recording would be, and the kept rows are taken.
Everything else in the shard is copied unchanged; the metadata's feature_kind / feature_dim follow the new features.

An audio-visual offset (frames; the clip's sound is late by that many frames, as bench/av_offsets.py measures it) is
corrected here: frame t takes the features of frame t + offset, the clip's edge frames repeating where that falls
outside it. A clip whose sound runs ahead of or behind its picture would otherwise teach a blurred, late mouth.
"""
import logging
import os
import shutil

from ..checkpoints import load_checkpoint, save_checkpoint
from . import video
from .extract import audio_features

log = logging.getLogger(__name__)


def read_offsets(path: str) -> dict[str, int]:
    """`file<TAB>offset` lines (a header line `file offset`, `#` comments) -> {shard name without extension: frames}."""
    offsets = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            cells = line.split()
            if not cells or line.startswith("#") or cells == ["file", "offset"]:
                continue
            try:
                name, offset = cells
                offsets[os.path.splitext(name)[0]] = int(offset)
            except ValueError:
                raise ValueError(f"{path} line {number}: expected '<clip><TAB><whole frames>', "
                                 f"got {line.strip()!r}") from None
    return offsets


def featurise_shard(shard_path: str, videos: str, out_path: str, encoder, av_offset: int = 0) -> dict:
    """Write `out_path`: the shard at `shard_path` with `encoder`'s features, frame t reading frame t + `av_offset`'s
    (the clip's sound late by that many frames); the clip is read from `videos`."""
    tensors, metadata = load_checkpoint(shard_path)
    name = os.path.basename(shard_path)
    source = os.path.join(videos, metadata.get("source_file", ""))
    if not metadata.get("source_file") or not os.path.isfile(source):
        raise FileNotFoundError(f"{name}: its clip {metadata.get('source_file')!r} is not in {videos}; point "
                                f"--videos at the folder the shards were extracted from")
    if "frame_index" not in tensors or "clip_frames" not in metadata:
        raise ValueError(f"{name}: no frame_index / clip_frames: extracted by an older extractor; extract it again")
    sound = video.read_sound(source)
    if sound is None:
        raise ValueError(f"{name}: {source} has no sound")
    fps = float(metadata["fps"])
    features = audio_features(sound.waveform, sound.sample_rate, int(metadata["clip_frames"]), fps, encoder)
    rows = (tensors["frame_index"].long() + int(av_offset)).clamp(0, features.shape[0] - 1)
    tensors["features"] = features[rows].contiguous()
    metadata = {**metadata, "feature_kind": encoder.kind, "feature_dim": int(features.shape[1]),
                "features_from": f"modit.data.featurise with audio encoder {encoder.name!r}",
                "av_offset_frames": int(av_offset)}
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    save_checkpoint(out_path, tensors, metadata)
    report = os.path.splitext(shard_path)[0] + ".json"
    if os.path.isfile(report):
        shutil.copyfile(report, os.path.splitext(out_path)[0] + ".json")
    log.info("%s: %d rows of %s features (%d wide), audio offset %+d frames", name, tensors["features"].shape[0],
             encoder.kind, features.shape[1], av_offset)
    return {"name": name, "rows": int(tensors["features"].shape[0]), "feature_kind": encoder.kind}


def shard_files(directory: str) -> list[str]:
    """Training shards under `directory` (recursively; the meshes/ side files are skipped), as relative paths."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d != "meshes")
        found += [os.path.relpath(os.path.join(root, f), directory) for f in sorted(files) if f.endswith(".safetensors")]
    return found
