"""Issue 14: a relative-motion DiT keeps the source's own expression; per-utterance audio normalisation; the
optional bias on the self-attention; the beta_0 token stays bounded for portraits far outside the training data."""
import torch

from comfyui_modit.modit.dit.bias_injection import phase_bias
from comfyui_modit.modit.dit.model import BETA_0_CLIP, MoDiT
from comfyui_modit.modit.dit.presets import build_config
from comfyui_modit.modit.dit.sampling import SamplingOptions, sample_expression
from comfyui_modit.modit.dit.schedule import NoiseSchedule
from comfyui_modit.modit.face.components import COMPONENT_NAMES, NUM_COMPONENTS

CORNERS_UP = COMPONENT_NAMES.index("corners_up")


class NoMotion(MoDiT):
    """A network whose every prediction means X_0 = 0 (eps = X_t / sqrt(1 - alpha_bar_t)): 'predict no motion'."""

    schedule = NoiseSchedule()

    def forward(self, x_t, t, audio, beta_0, attn_bias=None, drop_audio=None):
        a = self.schedule.alpha_bar(t, x_t)
        return x_t / (1 - a).sqrt()


def _model(relative: bool) -> MoDiT:
    model = NoMotion(build_config("tiny", feature_dim=8, expression_dim=NUM_COMPONENTS, relative_motion=relative))
    model.expression_mean.fill_(0.1)
    model.expression_std.fill_(0.05)
    return model.eval()


def _smiling_source() -> torch.Tensor:
    beta_0 = torch.zeros(NUM_COMPONENTS)
    beta_0[0], beta_0[CORNERS_UP], beta_0[-1] = 0.32, 0.6, -0.4  # jaw a little open, a smile, far out of range
    return beta_0


def test_relative_motion_returns_the_source_expression_when_nothing_moves():
    beta_0 = _smiling_source()
    silence = torch.zeros(60, 8)
    for sampler in ("ddim", "ddpm", "dpmpp_2m"):
        out = sample_expression(_model(True), NoMotion.schedule, silence, beta_0,
                                SamplingOptions(sampler=sampler, num_steps=8, seed=3, window=None, context=None))
        assert torch.allclose(out, beta_0.expand_as(out), atol=1e-4), sampler
    # The v1 parametrisation puts "no motion" at the training mean: the source's smile would be overwritten.
    absolute = sample_expression(_model(False), NoMotion.schedule, silence, beta_0, SamplingOptions(num_steps=8))
    assert torch.allclose(absolute, torch.full_like(absolute, 0.1), atol=1e-4)


def test_motion_units_round_trip():
    model = _model(True)
    expression, beta_0 = torch.randn(2, 7, NUM_COMPONENTS), torch.randn(2, NUM_COMPONENTS)
    x = model.motion_units(expression, beta_0)
    assert torch.allclose(model.motion_units(beta_0[:, None].expand_as(expression), beta_0), torch.zeros_like(x))
    assert torch.allclose(model.expression_from_motion(x, beta_0), expression, atol=1e-5)


def test_beta_0_token_is_clipped():
    model = _model(True)
    far = torch.full((NUM_COMPONENTS,), 100.0)  # thousands of training stds away
    assert model.beta_0_units(far).abs().max() <= BETA_0_CLIP


def test_utterance_audio_normalisation_ignores_level_and_channel():
    config = build_config("tiny", feature_dim=8, expression_dim=NUM_COMPONENTS, audio_norm="utterance")
    model = MoDiT(config)
    audio = torch.randn(40, 8)
    shifted = audio + torch.linspace(-3, 2, 8)  # a gain / microphone colour: a constant offset per log-mel band
    assert torch.allclose(model.audio_units(audio), model.audio_units(shifted), atol=1e-5)
    plain = MoDiT(build_config("tiny", feature_dim=8, expression_dim=NUM_COMPONENTS))
    assert not torch.allclose(plain.audio_units(audio), plain.audio_units(shifted))


def test_self_attention_bias_keeps_frames_inside_the_band():
    torch.manual_seed(0)
    T = 20
    for flag in (False, True):
        config = build_config("tiny", feature_dim=8, expression_dim=NUM_COMPONENTS, self_attention_bias=flag)
        model = MoDiT(config).eval()
        bias = phase_bias(0, 500, T)  # t < t_T: M_D + M_E
        _, weights = model.forward_with_attention(torch.randn(1, T, NUM_COMPONENTS), torch.tensor([0]),
                                                  torch.randn(1, T, 8), torch.randn(1, NUM_COMPONENTS), bias)
        frames = weights[0]["self"][0, :, :, 1:]  # [h, T, T] weights on the frames (key 0 is beta_0)
        offsets = (torch.arange(T)[None] - torch.arange(T)[:, None]).abs()
        outside = frames[:, offsets > 2].sum()
        assert (outside < 1e-6) if flag else (outside > 0.1)


def test_v1_config_loads_with_the_v1_behaviour():
    config = build_config("embedded")
    assert (config.relative_motion, config.audio_norm, config.self_attention_bias) == (False, "global", False)


def test_a_silent_input_stays_silent_after_utterance_normalisation():
    from comfyui_modit.modit.audio.normalization import SILENT_OFFSET, center_utterance

    silence = torch.full((75, 320), -4.0)  # mel80 of digital silence
    assert torch.allclose(center_utterance(silence), torch.full_like(silence, -SILENT_OFFSET))
    speech = torch.cat([silence[:20], torch.full((30, 320), -1.0), silence[:25]])  # pauses around a loud stretch
    centred = center_utterance(speech)
    assert torch.allclose(centred.mean(0), torch.zeros(320), atol=1e-5)  # a talking input: its own mean removed
