"""Downmix + band-limited resampling to 16 kHz match scipy's polyphase resampler and reject aliases."""
import numpy as np
import pytest
import scipy.signal
import torch

from comfyui_modit.modit.audio.resample import downmix, output_length, rate_ratio, resample, to_16k_mono


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_stereo_matches_resample_poly(rate):
    rng = np.random.default_rng(rate)
    stereo = rng.uniform(-1, 1, size=(1, 2, rate // 2)).astype(np.float32)  # [B, C, S], half a second
    up, down = rate_ratio(rate)
    expected = scipy.signal.resample_poly(stereo.astype(np.float64).mean(axis=1), up, down, axis=-1)
    got = to_16k_mono(torch.from_numpy(stereo), rate)
    assert got.shape == (1, output_length(rate // 2, rate)) == expected.shape
    assert np.abs(got.numpy() - expected).max() < 2e-6  # float32 compute
    exact = resample(downmix(torch.from_numpy(stereo).double()), rate)
    assert np.abs(exact.numpy() - expected).max() < 1e-12  # same filter, same sum


def test_coprime_rate_uses_same_filter():
    # 11111 Hz and 16 kHz are co-prime: up = 16000, evaluated per output sample instead of by conv
    x = np.random.default_rng(1).standard_normal(4000)
    expected = scipy.signal.resample_poly(x, 16000, 11111)
    got = resample(torch.from_numpy(x), 11111)
    assert np.abs(got.numpy() - expected).max() < 1e-12


@pytest.mark.parametrize("rate", [44100, 8000])
def test_pieces_join_exactly(rate):
    x = torch.randn(3 * rate // 4, dtype=torch.float64)
    whole = resample(x, rate)
    cuts = [0, 777, 4000, 4001, whole.shape[0]]
    joined = torch.cat([resample(x, rate, start=a, stop=b) for a, b in zip(cuts, cuts[1:])])
    assert torch.allclose(joined, whole, atol=1e-12)


def test_anti_aliasing():
    # A 12 kHz tone is above the 8 kHz Nyquist rate of 16 kHz audio: it must vanish, not fold to 4 kHz.
    rate = 48000
    t = torch.arange(rate, dtype=torch.float64) / rate
    tone = torch.sin(2 * torch.pi * 12000 * t)
    speech_band = torch.sin(2 * torch.pi * 1000 * t)
    aliased = resample(tone, rate)[2000:-2000]
    kept = resample(speech_band, rate)[2000:-2000]
    assert aliased.abs().max() < 0.01
    assert abs(kept.pow(2).mean().sqrt().item() - 2 ** -0.5) < 1e-3


def test_identity_rate_and_bad_input():
    x = torch.randn(1, 1, 100)
    assert torch.equal(to_16k_mono(x, 16000), x[:, 0])
    with pytest.raises(ValueError, match="sample rate"):
        resample(torch.randn(10), 0)
    with pytest.raises(ValueError, match="B, C, S"):
        downmix(torch.randn(10))
