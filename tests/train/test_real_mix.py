"""Issue 14 training: several shard directories mixed, fine-tuning from a checkpoint, and a relative-motion DiT
trained on sources with their own expression keeps that expression on silence."""
import os

import pytest
import torch

from comfyui_modit.modit.checkpoints import save_checkpoint
from comfyui_modit.modit.dit.sampling import SamplingOptions, sample_expression
from comfyui_modit.modit.dit.schedule import NoiseSchedule
from comfyui_modit.modit.face.components import COMPONENT_NAMES, JAW_OPEN, NUM_COMPONENTS, SPACE_NAME
from comfyui_modit.modit.train.data import ShardDataset
from comfyui_modit.modit.train.loop import TrainOptions, train

from ..dit.synthetic import synthetic_utterance, write_shards

CORNERS_UP = COMPONENT_NAMES.index("corners_up")


def write_sources_shard(directory, utterances: int = 12, seed: int = 1) -> str:
    """Like real shards: each utterance has its own non-zero beta_0 (a smile, an open jaw) and moves around it."""
    os.makedirs(directory, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    features, expressions, beta_0, lengths = [], [], [], []
    for _ in range(utterances):
        f, e = synthetic_utterance(int(torch.randint(30, 60, (1,), generator=generator)), generator)
        source = torch.zeros(NUM_COMPONENTS)
        source[CORNERS_UP] = 0.2 + 0.5 * torch.rand(1, generator=generator)
        source[JAW_OPEN] = 0.3 * torch.rand(1, generator=generator)
        features.append(f)
        expressions.append(source + e)
        beta_0.append(source)
        lengths.append(f.shape[0])
    save_checkpoint(os.path.join(directory, "real.safetensors"),
                    {"features": torch.cat(features), "expression": torch.cat(expressions),
                     "beta_0": torch.stack(beta_0), "lengths": torch.tensor(lengths)},
                    {"feature_kind": "mel80", "feature_dim": 80, "fps": 25, "space": SPACE_NAME})
    return str(directory)


def test_mix_sets_the_share_of_windows_per_directory(tmp_path):
    synthetic = write_shards(tmp_path / "synthetic", num_shards=2, utterances=10)
    real = write_sources_shard(tmp_path / "real")
    dataset = ShardDataset([synthetic, real], mix=[0.2, 0.8])
    generator = torch.Generator().manual_seed(0)
    batch = dataset.sample_batch(4000, 8, generator)
    from_real = (batch.beta_0[:, CORNERS_UP] > 0).float().mean().item()  # only the real shard has smiles
    assert abs(from_real - 0.8) < 0.03


def test_relative_statistics_measure_motion_around_beta_0(tmp_path):
    dataset = ShardDataset(write_sources_shard(tmp_path / "real"))
    absolute, relative = dataset.statistics(False), dataset.statistics(True)
    # corners_up never moves within an utterance: its relative std is the floor, its absolute one is not
    assert relative["expression_std"][CORNERS_UP] < 0.02 < absolute["expression_std"][CORNERS_UP]
    assert torch.allclose(relative["expression_mean"], absolute["expression_mean"])


def test_relative_model_keeps_the_source_expression_on_silence(tmp_path):
    data = write_sources_shard(tmp_path / "real", utterances=16)
    first = str(tmp_path / "start.safetensors")
    train(ShardDataset(data), "tiny", first, TrainOptions(steps=5, batch_size=8, log_every=1000),
          config_overrides={"relative_motion": True})
    model, _ = train(ShardDataset(data), "tiny", str(tmp_path / "tiny.safetensors"),
                     TrainOptions(steps=300, batch_size=16, learning_rate=3e-3, warmup_steps=20, log_every=1000),
                     config_overrides={"relative_motion": True}, init=first)
    source = torch.zeros(NUM_COMPONENTS)
    source[CORNERS_UP], source[JAW_OPEN] = 0.55, 0.25
    silence = 0.05 * torch.randn(80, 80, generator=torch.Generator().manual_seed(5))
    out = sample_expression(model.eval(), NoiseSchedule(), silence, source, SamplingOptions(num_steps=10, seed=1))
    # the smile stays (within 10 %), although no training source had this one: corners never move in the data
    assert abs(out[:, CORNERS_UP].mean() - 0.55) < 0.1 * 0.55


def test_init_from_a_narrower_audio_input_starts_as_that_network(tmp_path):
    """--init with features that add columns (mel80 -> mel80+whisper4): the old columns keep their weights, the new
    ones start at zero, so before any step the network predicts what the checkpoint did, whatever the new columns."""
    from comfyui_modit.modit.dit.checkpoint import load_dit
    from comfyui_modit.modit.dit.model import MoDiT
    from comfyui_modit.modit.train.loop import _initialise_from

    data = write_sources_shard(tmp_path / "real", utterances=4)
    narrow_path = str(tmp_path / "narrow.safetensors")
    train(ShardDataset(data), "tiny", narrow_path, TrainOptions(steps=3, batch_size=4, log_every=1000),
          config_overrides={"relative_motion": True})
    narrow, _ = load_dit(narrow_path)
    wide = MoDiT(narrow.config.replace(feature_dim=80 + 16))
    _initialise_from(wide, narrow_path)
    weight = wide.audio_embed[0].weight
    assert torch.equal(weight[:, :80], narrow.audio_embed[0].weight) and torch.all(weight[:, 80:] == 0)
    g = torch.Generator().manual_seed(0)
    x_t, audio = torch.randn(2, 16, NUM_COMPONENTS, generator=g), torch.randn(2, 16, 80, generator=g)
    t, beta_0 = torch.tensor([10, 700]), torch.randn(2, NUM_COMPONENTS, generator=g)
    extra = 5 * torch.randn(2, 16, 16, generator=g)
    with torch.no_grad():
        assert torch.allclose(wide(x_t, t, torch.cat([audio, extra], -1), beta_0), narrow(x_t, t, audio, beta_0),
                              atol=1e-5)
    with_other = MoDiT(narrow.config.replace(hidden_size=64))
    with pytest.raises(ValueError, match="missing or of another shape"):
        _initialise_from(with_other, narrow_path)
