"""DiT checkpoints: the round trip keeps every weight and promise; wrong files are refused with clear errors."""
import pytest
import torch

from comfyui_modit.modit.checkpoints import load_checkpoint, save_checkpoint
from comfyui_modit.modit.dit.checkpoint import DiTInfo, load_dit, save_dit
from comfyui_modit.modit.dit.model import MoDiT
from comfyui_modit.modit.dit.presets import PRESETS, DiTConfig, modit_tiny


def _tiny(tmp_path, **config):
    torch.manual_seed(0)
    model = MoDiT(modit_tiny(**config))
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    model.expression_std.fill_(0.3)
    info = DiTInfo(preset="tiny", config=model.config, space="embedded-v1", feature_kind="mel80", fps=25.0,
                   num_train_steps=123)
    path = str(tmp_path / "dit.safetensors")
    save_dit(path, model, info)
    return model, info, path


def test_round_trip_keeps_weights_statistics_and_metadata(tmp_path):
    model, info, path = _tiny(tmp_path)
    loaded, loaded_info = load_dit(path)
    assert loaded_info == info
    x, t, audio, beta_0 = torch.randn(1, 16, 12), torch.tensor([10]), torch.randn(1, 16, 80), torch.zeros(1, 12)
    assert torch.equal(model.eval()(x, t, audio, beta_0), loaded(x, t, audio, beta_0))
    assert torch.equal(loaded.expression_std, torch.full((12,), 0.3))
    _, metadata = load_checkpoint(path)
    assert metadata["architecture"] == "modit-dit" and metadata["feature_dim"] == 80
    assert metadata["schedule"]["num_train_steps"] == 1000 and metadata["num_train_steps"] == 123


def test_presets_match_the_paper():
    paper = PRESETS["paper"]()
    assert (paper.depth, paper.hidden_size, paper.ffn_size, paper.num_heads, paper.window) == (1, 1024, 2048, 4, 12)
    embedded = MoDiT(PRESETS["embedded"]())
    assert embedded.num_parameters() * 4 < 40e6, "the bundled checkpoint must stay under 40 MB in fp32"


def test_foreign_file_is_refused_by_name(tmp_path):
    path = str(tmp_path / "wav2lip.safetensors")
    save_checkpoint(path, {"face_encoder_blocks.0.weight": torch.zeros(2)}, {"architecture": "wav2lip"})
    with pytest.raises(ValueError, match=r"wav2lip\.safetensors: not a MoDiT DiT checkpoint.*'wav2lip'"):
        load_dit(path)


def test_weights_that_disagree_with_the_config_are_refused(tmp_path):
    _, info, path = _tiny(tmp_path)
    state, metadata = load_checkpoint(path)
    metadata["config"] = DiTConfig.to_dict(info.config.replace(hidden_size=48))
    save_checkpoint(path, state, metadata)
    with pytest.raises(ValueError, match=r"dit\.safetensors: not a MoDiT DiT \(tiny\) checkpoint: wrong shapes"):
        load_dit(path)


def test_missing_keys_are_named(tmp_path):
    _, _, path = _tiny(tmp_path)
    state, metadata = load_checkpoint(path)
    del state["final.weight"]
    save_checkpoint(path, state, metadata)
    with pytest.raises(ValueError, match="missing keys.*final.weight"):
        load_dit(path)
