"""MoDiT Load DiT and MoDiT Sample Expression: the Motion contract, bundled listing, and mismatch refusal."""
import re
import shutil

import pytest
import torch

from comfyui_modit.modit.types import Motion
from comfyui_modit.nodes import NODES, node_info, run_node
from comfyui_modit.nodes.motion import NONE_FOUND, SLOW_NOISE

from .synthetic import audio_features, face


def _checkpoints():
    return node_info(NODES["MoDiTLoadDiT"])["input"]["required"]["checkpoint"][1]["options"]


def _load(trained_tiny, models_dir):
    shutil.copy(trained_tiny[2], models_dir / "modit" / "tiny.safetensors")
    assert "tiny.safetensors" in _checkpoints()
    return run_node("MoDiTLoadDiT", checkpoint="tiny.safetensors", dtype="auto")[0]


def _sample(handle, features, source, sampler="ddim", seed=0, expression_scale=1.0):
    return run_node("MoDiTSampleExpression", dit_model=handle, audio_features=features, face=source, seed=seed,
                    steps=6, sampler=sampler, phase_threshold=500, guidance_scale=1.0,
                    expression_scale=expression_scale)[0]


@pytest.mark.parametrize("sampler", ["ddim", "ddpm", "dpmpp_2m"])
def test_every_sampler_keeps_the_motion_contract(trained_tiny, models_dir, sampler):
    handle = _load(trained_tiny, models_dir)
    features = audio_features(70)
    motion = _sample(handle, features, face(), sampler)
    assert isinstance(motion, Motion)
    assert motion.expression.shape == (70, 12) and motion.fps == features.fps and motion.space == "embedded-v1"
    assert torch.isfinite(motion.expression).all()
    assert not motion.pose.any() and not motion.eye_closure.any()


def test_expression_scale_scales_around_beta_0(trained_tiny, models_dir):
    handle = _load(trained_tiny, models_dir)
    features, source = audio_features(30), face()
    one = _sample(handle, features, source, seed=1).expression
    half = _sample(handle, features, source, seed=1, expression_scale=0.5).expression
    assert torch.allclose(half, 0.5 * one, atol=1e-6)  # beta_0 is zero here


def test_mismatched_features_and_space_are_refused_naming_both(trained_tiny, models_dir):
    handle = _load(trained_tiny, models_dir)
    with pytest.raises(ValueError, match=r"trained on 'mel80' features of width 80.*'hubert' of width 768"):
        _sample(handle, audio_features(20, kind="hubert", dim=768), face())
    with pytest.raises(ValueError, match=r"space 'embedded-v1'.*space 'bfm-64'"):
        _sample(handle, audio_features(20), face(space="bfm-64", k=64))
    with pytest.raises(ValueError, match=r"trained at 25.0 fps.*30.0 fps"):
        _sample(handle, audio_features(20, fps=30.0), face())


def test_a_whisper_dit_on_mel_features_names_the_encoder_to_choose(trained_tiny):
    from dataclasses import replace

    from comfyui_modit.modit.audio.encoder import BUILTIN_WHISPER, WHISPER_MEL
    from comfyui_modit.modit.dit.handle import DiTHandle

    model, info = trained_tiny[0], trained_tiny[1]
    handle = DiTHandle(model, replace(info, feature_kind=WHISPER_MEL), "v3.safetensors")
    expected = re.escape(f"'{WHISPER_MEL}'") + ".*" + re.escape(
        f"set MoDiT Load Audio Encoder (connected to Encode Audio) to '{BUILTIN_WHISPER}'")
    with pytest.raises(ValueError, match=expected):
        handle.check_inputs(audio_features(20), face())


def test_loader_lists_only_what_exists(models_dir, monkeypatch):
    import comfyui_modit.nodes.motion as motion_nodes

    monkeypatch.setattr(motion_nodes, "BUNDLED_WEIGHTS_DIR", str(models_dir / "nothing_here"))
    choices = _checkpoints()
    assert choices == [NONE_FOUND]
    with pytest.raises(FileNotFoundError, match="models/modit"):
        run_node("MoDiTLoadDiT", checkpoint=NONE_FOUND, dtype="auto")


def test_bundled_checkpoints_are_listed_by_name(trained_tiny, models_dir, monkeypatch, tmp_path):
    import comfyui_modit.nodes.motion as motion_nodes

    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(trained_tiny[2], weights / "modit_embedded_v1.safetensors")
    monkeypatch.setattr(motion_nodes, "BUNDLED_WEIGHTS_DIR", str(weights))
    assert _checkpoints()[0] == "embedded (bundled)"
    handle = run_node("MoDiTLoadDiT", checkpoint="embedded (bundled)", dtype="fp32")[0]
    assert handle.info.space == "embedded-v1"


def test_guided_sampling_keeps_the_opening_but_its_peaks_and_calms_the_other_channels(trained_tiny, models_dir):
    """With guidance the node returns the sampler's own mouth opening with only its widest openings compressed
    (soften_guided_peaks), and every other channel as sampled but with its course brought back toward the source's
    expression by the gain guidance adds (undo_guidance_gain)."""
    from dataclasses import replace

    from comfyui_modit.modit.dit.sampling import (PEAK_KNEE, PEAK_WIDTH, SamplingOptions, checkpoint_bias,
                                                  sample_expression, soften_guided_peaks, undo_guidance_gain)
    from comfyui_modit.modit.face.components import JAW_OPEN

    handle = _load(trained_tiny, models_dir)
    features = audio_features(30)
    source = replace(face(), beta_0=torch.linspace(-0.3, 0.4, 12))
    motion = run_node("MoDiTSampleExpression", dit_model=handle, audio_features=features, face=source, seed=2,
                      steps=6, sampler="ddim", phase_threshold=500, guidance_scale=2.5, expression_scale=1.0)[0]
    info = handle.info
    options = SamplingOptions(num_steps=6, phase_threshold=500, guidance_scale=2.5, seed=2, slow_noise=SLOW_NOISE,
                              **checkpoint_bias(info.bias))
    raw = sample_expression(handle.patcher.model, handle.schedule, features.track, source.beta_0, options)
    expression = motion.expression.float().cpu()
    calm = (raw[:, JAW_OPEN] - source.beta_0[JAW_OPEN]) < PEAK_KNEE - PEAK_WIDTH / 2
    assert calm.any() and (~calm).any(), "the tiny model's opening should cross the knee both ways"
    assert torch.allclose(expression[calm, JAW_OPEN], raw[calm, JAW_OPEN], atol=1e-6)
    assert (expression[~calm, JAW_OPEN] < raw[~calm, JAW_OPEN]).all()
    expected = soften_guided_peaks(undo_guidance_gain(raw, source.beta_0, 2.5, features.fps, keep=(JAW_OPEN,)),
                                   source.beta_0, 2.5, (JAW_OPEN,))
    assert torch.allclose(expression, expected, atol=1e-6)
    others = [k for k in range(12) if k != JAW_OPEN]
    assert (expression[:, others] - source.beta_0[others]).mean(0).abs().sum() < \
        0.8 * (raw[:, others] - source.beta_0[others]).mean(0).abs().sum()


def test_slow_noise_reaches_the_sampler_and_an_old_prompt_gets_the_default(trained_tiny, models_dir):
    """The node's slow_noise is the sampler's; a prompt saved before the input existed (no slow_noise) samples as
    the default does; 1 is the paper's white starting noise."""
    from comfyui_modit.modit.dit.sampling import SamplingOptions, checkpoint_bias, sample_expression

    handle = _load(trained_tiny, models_dir)
    features, source = audio_features(40), face()
    old_prompt = _sample(handle, features, source, seed=3).expression
    default = run_node("MoDiTSampleExpression", dit_model=handle, audio_features=features, face=source, seed=3,
                       steps=6, sampler="ddim", phase_threshold=500, guidance_scale=1.0, expression_scale=1.0,
                       slow_noise=SLOW_NOISE)[0].expression
    assert torch.equal(old_prompt, default)
    info = handle.info
    for slow_noise in (SLOW_NOISE, 1.0):
        node = run_node("MoDiTSampleExpression", dit_model=handle, audio_features=features, face=source, seed=3,
                        steps=6, sampler="ddim", phase_threshold=500, guidance_scale=1.0, expression_scale=1.0,
                        slow_noise=slow_noise)[0].expression
        options = SamplingOptions(num_steps=6, phase_threshold=500, seed=3, slow_noise=slow_noise,
                                  **checkpoint_bias(info.bias))
        raw = sample_expression(handle.patcher.model, handle.schedule, features.track, source.beta_0, options)
        assert torch.allclose(node.float().cpu(), raw, atol=1e-6)
    assert not torch.allclose(default, node)


def test_close_parted_lips_samples_around_the_portrait_with_its_lips_together(trained_tiny, models_dir):
    """A portrait caught mid-word: with close_parted_lips the DiT samples around its expression with the lips brought
    together (expression.close_parted_lips): the sampler is given that expression as its beta_0, and its jaw is a
    closed mouth's; 0 (and a prompt saved before the input existed) samples around the portrait's own."""
    from dataclasses import replace

    from comfyui_modit.modit.dit.sampling import SamplingOptions, checkpoint_bias, sample_expression
    from comfyui_modit.modit.face import expression as embedded
    from comfyui_modit.modit.face.components import JAW_OPEN

    handle = _load(trained_tiny, models_dir)
    neutral = embedded.neutral_template()
    beta_0 = torch.zeros(12)
    beta_0[JAW_OPEN] = 0.8
    features, source = audio_features(30), replace(face(), beta_0=beta_0, neutral_mesh=neutral)
    own = _sample(handle, features, source, seed=4).expression
    kwargs = dict(dit_model=handle, audio_features=features, face=source, seed=4, steps=6, sampler="ddim",
                  phase_threshold=500, guidance_scale=1.0, expression_scale=1.0)
    assert torch.equal(run_node("MoDiTSampleExpression", close_parted_lips=0.0, **kwargs)[0].expression, own)
    closed = run_node("MoDiTSampleExpression", close_parted_lips=1.0, **kwargs)[0].expression
    reference = embedded.close_parted_lips(neutral, beta_0, 1.0)
    info = handle.info
    options = SamplingOptions(num_steps=6, phase_threshold=500, seed=4, slow_noise=SLOW_NOISE,
                              **checkpoint_bias(info.bias))
    raw = sample_expression(handle.patcher.model, handle.schedule, features.track, reference, options)
    assert torch.allclose(closed.float().cpu(), raw, atol=1e-6)
    assert reference[JAW_OPEN] < 0.5 * beta_0[JAW_OPEN]  # a relative-motion DiT (v5) moves around that reference
    with pytest.raises(ValueError, match=r"close_parted_lips must be in 0\.\.1.*got 2"):
        run_node("MoDiTSampleExpression", close_parted_lips=2.0, **kwargs)
