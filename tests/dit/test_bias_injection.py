"""Algorithm 1's masks: M_D concentrates real attention on the diagonal, and t_T switches the phase exactly."""
import torch

from comfyui_modit.modit.dit.bias_injection import (diagonal_bias, expression_bias, phase_bias,
                                                     uses_lip_bias)
from comfyui_modit.modit.dit.model import MoDiT
from comfyui_modit.modit.dit.presets import modit_tiny
from comfyui_modit.modit.dit.sampling import SamplingOptions, sample_expression
from comfyui_modit.modit.dit.schedule import NoiseSchedule

from .synthetic import audio_features


def test_diagonal_bias_is_a_band_of_the_given_width():
    m_d = diagonal_bias(10, width=2)
    i, j = torch.meshgrid(torch.arange(10), torch.arange(10), indexing="ij")
    assert torch.equal(m_d == 0, (i - j).abs() <= 2)
    assert torch.isneginf(m_d[(i - j).abs() > 2]).all()


def test_expression_bias_is_dispersed():
    m_e = expression_bias(30, spread=6.0)
    assert torch.isfinite(m_e).all(), "M_E must never hide a frame"
    assert m_e[10, 10] == 0 and m_e[10, 11] > m_e[10, 20] > m_e[10, 29]  # decays with distance, smoothly
    assert torch.allclose(m_e, m_e.T)


def _diagonal_mass(weights: torch.Tensor, reach: int = 2) -> float:
    """Share of cross-attention mass on audio frames within `reach` of the query frame ([B, h, T, 1+T])."""
    audio = weights[..., 1:]  # drop the A_n summary column
    T = audio.shape[-1]
    i, j = torch.meshgrid(torch.arange(T), torch.arange(T), indexing="ij")
    return float((audio * ((i - j).abs() <= reach)).sum().detach() / weights.sum().detach())


def test_diagonal_bias_concentrates_the_real_cross_attention():
    torch.manual_seed(0)
    model = MoDiT(modit_tiny()).eval()
    for p in model.parameters():  # a network with non-trivial attention everywhere, not the zero-init one
        torch.nn.init.normal_(p, std=0.3)
    T = 24
    x, audio, beta_0 = torch.randn(2, T, 12), torch.randn(2, T, 80), torch.zeros(2, 12)
    t = torch.tensor([100, 100])
    _, plain = model.forward_with_attention(x, t, audio, beta_0, None)
    _, biased = model.forward_with_attention(x, t, audio, beta_0, diagonal_bias(T, width=2))
    without, with_md = _diagonal_mass(plain[0]["cross"]), _diagonal_mass(biased[0]["cross"])
    assert with_md > 2 * without, (without, with_md)
    assert with_md > 0.5


def test_phase_decider_switches_exactly_at_the_threshold():
    T, t_T = 8, 300
    m_e, m_d = expression_bias(T), diagonal_bias(T)
    assert uses_lip_bias(t_T - 1, t_T) and not uses_lip_bias(t_T, t_T)  # Alg. 1: M_D only while t < t_T
    assert torch.equal(phase_bias(t_T - 1, t_T, T), m_d + m_e)
    assert torch.equal(phase_bias(t_T, t_T, T), m_e)
    batch = phase_bias(torch.tensor([0, t_T - 1, t_T, 999]), t_T, T)  # training: one phase per sample
    assert [torch.isneginf(b).any().item() for b in batch] == [True, True, False, False]
    assert not uses_lip_bias(0, 0), "t_T = 0 never injects M_D"


def test_sampler_injects_the_phase_bias_algorithm_1_asks_for():
    """Spy on the network: every step gets M_D + M_E iff its t < t_T, whatever the sampler."""
    model = MoDiT(modit_tiny()).eval()
    seen = []
    forward = model.forward

    def spy(x_t, t, audio, beta_0, attn_bias=None, drop_audio=None):
        seen.append((int(t[0]), bool(torch.isneginf(attn_bias).any())))
        return forward(x_t, t, audio, beta_0, attn_bias, drop_audio)

    model.forward = spy
    schedule = NoiseSchedule()
    for sampler in ("ddpm", "ddim", "dpmpp_2m"):
        seen.clear()
        options = SamplingOptions(sampler=sampler, num_steps=20, phase_threshold=400)
        sample_expression(model, schedule, torch.randn(10, 80), torch.zeros(12), options)
        assert len(seen) == 20
        assert all(lip == (t < 400) for t, lip in seen), seen
        assert any(lip for _, lip in seen) and not all(lip for _, lip in seen)


def test_lip_sync_phase_is_what_locks_a_trained_jaw_to_the_audio(trained_tiny):
    """Algorithm 1 end to end: with t_T = 0 (M_E only, never M_D) the trained jaw loses the audio; with the
    training t_T it follows it."""
    model, info, _ = trained_tiny
    features = audio_features(120, seed=12).features
    schedule = NoiseSchedule(info.schedule)
    corr = {}
    for t_T in (0, info.bias["phase_threshold"]):
        jaw = sample_expression(model, schedule, features, torch.zeros(12),
                                SamplingOptions(num_steps=10, seed=0, phase_threshold=t_T))[:, 0]
        corr[t_T] = float(torch.corrcoef(torch.stack([jaw, features[:, 5]]))[0, 1])
    assert corr[info.bias["phase_threshold"]] > corr[0] + 0.3, corr
