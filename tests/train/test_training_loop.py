"""The training loop and `python -m modit_app train`: a tiny model overfits, shards are read and checked, resume works."""
import os

import pytest
import torch

from comfyui_modit.modit.checkpoints import load_checkpoint, save_checkpoint
from comfyui_modit.modit.dit.checkpoint import load_dit
from comfyui_modit.modit_app.train import main
from comfyui_modit.modit.train.data import ShardDataset
from comfyui_modit.modit.train.loop import TrainOptions, train

from ..dit.synthetic import write_shards


def test_tiny_model_overfits_a_tiny_dataset(tmp_path):
    corpus = write_shards(tmp_path / "corpus", num_shards=1, utterances=2, lengths=(16, 16))
    history = []
    torch.manual_seed(0)
    train(ShardDataset(corpus), "tiny", str(tmp_path / "dit.safetensors"),
          TrainOptions(steps=250, batch_size=32, learning_rate=3e-3, warmup_steps=20, log_every=1000),
          on_step=lambda step, losses: history.append(losses["total"]))
    first, last = sum(history[:20]) / 20, sum(history[-20:]) / 20
    assert last < first / 10, (first, last)


def test_cli_trains_saves_and_resumes(tmp_path):
    corpus = write_shards(tmp_path / "corpus", num_shards=2, utterances=3, lengths=(10, 30))
    out = str(tmp_path / "out" / "dit.safetensors")
    args = ["--data", corpus, "--preset", "tiny", "--batch-size", "4", "--out", out, "--seed", "1", "--log-every", "2"]
    assert main(args + ["--steps", "4"]) == 0
    assert load_checkpoint(out)[1]["num_train_steps"] == 4
    assert main(args + ["--steps", "6", "--resume"]) == 0
    model, info = load_dit(out)
    assert info.num_train_steps == 6 and info.space == "embedded-v1" and info.feature_kind == "mel80"
    assert info.preset == "tiny" and info.config.feature_dim == 80
    assert float(model.audio_std[5]) > 1.0, "the corpus statistics travel in the checkpoint"


def test_short_utterances_are_padded_and_masked(tmp_path):
    corpus = write_shards(tmp_path / "corpus", num_shards=1, utterances=3, lengths=(5, 8), fp16=False)
    dataset = ShardDataset(corpus)
    batch = dataset.sample_batch(8, 16, torch.Generator().manual_seed(0))
    assert batch.audio.shape == (8, 16, 80) and batch.expression.shape == (8, 16, 12) and batch.beta_0.shape == (8, 12)
    assert (batch.mask.sum(dim=1) <= 8).all() and (batch.mask[:, :5] == 1).all()
    for row in range(8):
        n = int(batch.mask[row].sum())
        assert torch.equal(batch.expression[row, n:], batch.expression[row, n - 1:n].expand(16 - n, -1))


def test_inconsistent_shards_are_refused_by_name(tmp_path):
    corpus = write_shards(tmp_path / "corpus", num_shards=2, utterances=2)
    path = os.path.join(corpus, "shard_001.safetensors")
    tensors, metadata = load_checkpoint(path)
    save_checkpoint(path, tensors, {**metadata, "space": "bfm-64"})
    with pytest.raises(ValueError, match=r"shard_001\.safetensors: shard metadata .*bfm-64.*differs"):
        ShardDataset(corpus)
    tensors["lengths"] = tensors["lengths"] + 1
    save_checkpoint(path, tensors, metadata)
    with pytest.raises(ValueError, match=r"shard_001\.safetensors: sum\(lengths\)"):
        ShardDataset(corpus)
    with pytest.raises(FileNotFoundError, match="no \\*.safetensors corpus shards"):
        ShardDataset(str(tmp_path / "empty"))
