"""modit.data.featurise: a shard's features swapped for another encoder's, rows matching the clip's frames."""
import os

import pytest
import torch

from comfyui_modit.modit.audio.encoder import WHISPER_MEL, AudioEncoder
from comfyui_modit.modit.checkpoints import load_checkpoint
from comfyui_modit.modit.data.featurise import featurise_shard, read_offsets, shard_files
from comfyui_modit.modit.train.data import ShardDataset

from .test_extract import extracted  # noqa: F401  (the module-scoped fixture: one extraction of the made clip)


def _shard(out):
    return os.path.join(out, "talking.safetensors")


def test_whisper_features_replace_mel80_and_nothing_else_changes(extracted, talking_clip, tmp_path):  # noqa: F811
    out, _ = extracted
    before, meta_before = load_checkpoint(_shard(out))
    target = tmp_path / "w" / "talking.safetensors"
    featurise_shard(_shard(out), os.path.dirname(talking_clip), str(target), AudioEncoder.load("built-in whisper base + mel"))
    after, meta_after = load_checkpoint(str(target))
    assert meta_after["feature_kind"] == WHISPER_MEL and meta_after["feature_dim"] == 832
    assert after["features"].shape == (before["features"].shape[0], 832)
    # the mel80 part is the extractor's own features, row for row: the same frames, the same code path
    assert torch.allclose(after["features"][:, :320].float(), before["features"].float(), atol=1e-5)
    for key in before:
        if key != "features":
            assert torch.equal(after[key], before[key]), key
    assert os.path.isfile(tmp_path / "w" / "talking.json")  # the clip report travels with the shard
    assert ShardDataset(str(tmp_path / "w")).feature_dim == 832  # and the trainer reads it


def test_missing_clip_is_named(extracted, tmp_path):  # noqa: F811
    out, _ = extracted
    with pytest.raises(FileNotFoundError, match="talking.mp4.*--videos"):
        featurise_shard(_shard(out), str(tmp_path), str(tmp_path / "x.safetensors"), AudioEncoder.builtin_mel())


def test_shard_files_skip_the_mesh_side_files(extracted):  # noqa: F811
    out, _ = extracted
    assert shard_files(str(out)) == ["talking.safetensors"]


def test_an_audio_offset_shifts_the_rows_to_later_frames(extracted, talking_clip, tmp_path):  # noqa: F811
    """A clip whose sound is late by k frames: frame t gets frame t + k's features; the edge frames repeat."""
    out, _ = extracted
    encoder = AudioEncoder.builtin_mel()
    featurise_shard(_shard(out), os.path.dirname(talking_clip), str(tmp_path / "a.safetensors"), encoder)
    featurise_shard(_shard(out), os.path.dirname(talking_clip), str(tmp_path / "b.safetensors"), encoder, av_offset=3)
    plain, _ = load_checkpoint(str(tmp_path / "a.safetensors"))
    shifted, meta = load_checkpoint(str(tmp_path / "b.safetensors"))
    assert meta["av_offset_frames"] == 3
    frames = plain["frame_index"].long()
    contiguous = bool((frames[1:] - frames[:-1] == 1).all())
    assert contiguous  # the made clip keeps every frame, so row t + 3 is frame t + 3
    assert torch.equal(shifted["features"][:-3], plain["features"][3:])
    assert torch.equal(shifted["features"][-3:], plain["features"][-1:].expand(3, -1))


def test_offsets_file_is_read_and_a_bad_line_is_named(tmp_path):
    good = tmp_path / "offsets"
    good.write_text("# measured\nfile\toffset\nclip_a\t3\nclip_b.mp4\t-2\n")
    assert read_offsets(str(good)) == {"clip_a": 3, "clip_b": -2}
    bad = tmp_path / "bad"
    bad.write_text("file\toffset\nclip_a\tthree\n")
    with pytest.raises(ValueError, match="line 2.*whole frames"):
        read_offsets(str(bad))


def test_committed_offsets_name_train_clips_only():
    """Validation clips stay as recorded (the benches measure against raw video); offsets are whole, small shifts."""
    from comfyui_modit.modit.data import manifest

    offsets = read_offsets(manifest.AV_OFFSETS)
    splits = {os.path.splitext(row["file"])[0]: row["split"] for row in manifest.read()}
    assert offsets and all(splits.get(name) == "train" for name in offsets), offsets
    assert all(0 < abs(k) <= 10 for k in offsets.values())


def test_the_extra_clips_offsets_name_extra_train_clips_only():
    """av_offsets_more covers manifest_more's clips (v5's data), never a clip the main file already sets."""
    from comfyui_modit.modit.data import manifest

    more = read_offsets(manifest.AV_OFFSETS_MORE)
    splits = {os.path.splitext(row["file"])[0]: row["split"] for row in manifest.read(manifest.MORE)}
    assert more and all(splits.get(name) == "train" for name in more), more
    assert not set(more) & set(read_offsets(manifest.AV_OFFSETS))
    assert all(0 < abs(k) <= 10 for k in more.values())


def test_the_validation_offsets_name_validation_clips_only():
    """av_offsets_val (the benches' in-sync reading) never names a train clip: it must not reach training data."""
    from comfyui_modit.modit.data import manifest

    val = read_offsets(manifest.AV_OFFSETS_VAL)
    splits = {os.path.splitext(row["file"])[0]: row["split"] for row in manifest.read()}
    assert val and all(splits.get(name) == "val" for name in val), val
    assert all(0 < abs(k) <= 10 for k in val.values())
