"""modit.data.featurise: a shard's features swapped for another encoder's, rows matching the clip's frames."""
import os

import pytest
import torch

from comfyui_modit.modit.audio.encoder import WHISPER_MEL, AudioEncoder
from comfyui_modit.modit.checkpoints import load_checkpoint
from comfyui_modit.modit.data.featurise import featurise_shard, shard_files
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
