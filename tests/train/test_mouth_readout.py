"""The mouth-opening readout behind `python -m modit.train --mouth-loss` (issue 14): fitted on shards that store a
measured opening, it recovers the expression direction that opens the mouth and feeds L_lks."""
import pytest
import torch

from comfyui_modit.modit.checkpoints import save_checkpoint
from comfyui_modit.modit.face.components import JAW_OPEN, NUM_COMPONENTS, SPACE_NAME
from comfyui_modit.modit.train.losses import landmark_loss
from comfyui_modit.modit.train.mouth_readout import MouthReadout, fit_mouth_readout

META = {"feature_kind": "mel80", "feature_dim": 8, "fps": 25, "space": SPACE_NAME}


def _shard(path, frames: int = 200, with_mouth: bool = True, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    expression = torch.randn(frames, NUM_COMPONENTS, generator=g) * 0.2
    tensors = {"features": torch.zeros(frames, 8), "expression": expression, "beta_0": expression[:1].clone(),
               "lengths": torch.tensor([frames])}
    if with_mouth:  # the measured opening follows jaw_open, plus a constant and a little tracker noise
        tensors["mouth_open"] = 0.05 + 0.3 * expression[:, JAW_OPEN] + 0.001 * torch.randn(frames, generator=g)
    save_checkpoint(str(path), tensors, META)


def test_fit_recovers_the_direction_that_opens_the_mouth(tmp_path):
    _shard(tmp_path / "a.safetensors")
    _shard(tmp_path / "b.safetensors", seed=1)
    weights, bias, opening_std = fit_mouth_readout([str(tmp_path)])
    assert weights.shape == (NUM_COMPONENTS,)
    assert abs(weights[JAW_OPEN].item() - 0.3) < 0.01
    others = torch.cat([weights[:JAW_OPEN], weights[JAW_OPEN + 1:]])
    assert others.abs().max() < 0.01
    assert abs(bias - 0.05) < 0.005
    assert abs(opening_std - 0.06) < 0.01


def test_shards_without_a_measured_opening_are_skipped_or_refused(tmp_path):
    (tmp_path / "syn").mkdir()
    _shard(tmp_path / "syn" / "s.safetensors", with_mouth=False)
    with pytest.raises(ValueError, match="mouth_open"):
        fit_mouth_readout([str(tmp_path / "syn")])
    (tmp_path / "real").mkdir()
    _shard(tmp_path / "real" / "r.safetensors")
    weights, _, _ = fit_mouth_readout([str(tmp_path / "syn"), str(tmp_path / "real")])
    assert abs(weights[JAW_OPEN].item() - 0.3) < 0.01


def test_readout_loss_sees_only_motion_that_changes_the_opening():
    weights = torch.zeros(NUM_COMPONENTS)
    weights[JAW_OPEN] = 0.3
    std = torch.full((NUM_COMPONENTS,), 0.1)
    readout = MouthReadout(weights, std, opening_std=0.03, gain=2.0)
    x0 = torch.randn(2, 5, NUM_COMPONENTS)
    assert readout(x0).shape == (2, 5, 1, 1)
    mask = torch.ones(2, 5)
    moved_elsewhere = x0.clone()
    moved_elsewhere[..., JAW_OPEN + 1] += 1.0  # a channel that does not open the mouth
    assert landmark_loss(moved_elsewhere, x0, mask, readout).item() == pytest.approx(0.0, abs=1e-10)
    moved_jaw = x0.clone()
    moved_jaw[..., JAW_OPEN] += 1.0  # one training std of jaw: 0.1 * 0.3 / 0.03 = 1 opening std, times gain 2
    assert landmark_loss(moved_jaw, x0, mask, readout).item() == pytest.approx(4.0, rel=1e-5)
    with pytest.raises(ValueError, match="channels"):
        MouthReadout(weights[:5], std, 0.03)


def test_the_cli_adds_the_mouth_term_to_the_training_loss(tmp_path, monkeypatch):
    from comfyui_modit.modit.train import loop
    from comfyui_modit.modit_app import train as cli

    data = tmp_path / "real"
    data.mkdir()
    _shard(data / "r.safetensors", frames=120)
    seen = []
    original = loop.diffusion_losses

    def spy(*args, **kwargs):
        losses = original(*args, **kwargs)
        seen.append(sorted(losses))
        return losses

    monkeypatch.setattr(loop, "diffusion_losses", spy)
    out = str(tmp_path / "m.safetensors")
    assert cli.main(["--data", str(data), "--preset", "tiny", "--steps", "2", "--batch-size", "2", "--relative-motion",
                     "--mouth-loss", "2", "--out", out, "--log-every", "1000"]) == 0
    assert seen and all("landmark" in names for names in seen)
