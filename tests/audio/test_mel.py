"""The torch log-mel front end equals the Wav2Lip / SadTalker librosa recipe; windows follow their index rules."""
import math

import librosa
import numpy as np
import pytest
import scipy.signal
import torch

from comfyui_modit.modit.audio import mel as M


def librosa_reference(wav: np.ndarray, pad_mode: str) -> np.ndarray:
    """Wav2Lip audio.melspectrogram, written from its hparams (reference doc §2.1)."""
    emphasised = scipy.signal.lfilter([1, -0.97], [1], wav)
    spectrum = np.abs(librosa.stft(y=emphasised, n_fft=800, hop_length=200, win_length=800, center=True,
                                   pad_mode=pad_mode))
    basis = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600, htk=False)
    db = 20 * np.log10(np.maximum(1e-5, basis @ spectrum)) - 20
    return np.clip(8 * (db + 100) / 100 - 4, -4, 4)


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise bursts, a harmonic vowel, a fade and true silence: covers the clipped and the linear dB range."""
    rng = np.random.default_rng(seed)
    n = int(16000 * seconds)
    t = np.arange(n) / 16000
    vowel = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 20)) * 0.2
    envelope = np.clip(np.sin(2 * np.pi * 1.3 * t), 0, 1)
    wav = vowel * envelope + 0.05 * rng.standard_normal(n) * (t % 0.5 < 0.1)
    wav[n // 3:n // 3 + 3000] = 0.0
    return wav * np.linspace(1, 0.01, n)


def test_mel_basis_matches_librosa():
    expected = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600, htk=False)
    assert M.mel_basis(dtype=torch.float64).shape == (80, 401)
    assert np.abs(M.mel_basis(dtype=torch.float64).numpy() - expected).max() < 1e-8  # librosa builds it in float32


@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
def test_log_mel_matches_librosa(pad_mode):
    wav = speech_like(1.7)
    expected = librosa_reference(wav, pad_mode)
    got64 = M.log_mel(torch.from_numpy(wav), pad_mode=pad_mode)
    got32 = M.log_mel(torch.from_numpy(wav).float(), pad_mode=pad_mode)
    assert got32.dtype == torch.float32 and got32.shape == expected.shape == (80, 1 + len(wav) // 200)
    assert np.abs(got64.numpy() - expected).max() < 1e-6
    assert np.abs(got32.numpy() - expected).max() < 1e-4  # on a [-4, 4] scale
    assert (expected == -4).any() and ((expected > -3.9) & (expected < 3.9)).mean() > 0.5  # both regimes tested


def test_silence_is_floor_and_chunks_join():
    assert torch.equal(M.log_mel(torch.zeros(4000)), torch.full((80, 21), M.SILENCE))
    wav = torch.from_numpy(speech_like(1.0, seed=3))
    whole = M.log_mel(wav)
    cuts = [0, 1, 5, 40, whole.shape[1] - 1, whole.shape[1]]
    joined = torch.cat([M.log_mel_frames(wav, a, b) for a, b in zip(cuts, cuts[1:])], dim=1)
    assert torch.allclose(joined, whole, atol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="mono"):
        M.log_mel(torch.zeros(2, 100))
    with pytest.raises(ValueError, match="empty"):
        M.log_mel(torch.zeros(0))


def test_window_rules_at_25_fps():
    mel = torch.arange(80 * 50, dtype=torch.float32).reshape(80, 50)
    wav2lip = M.mel_windows(mel, 12, 25.0)
    sadtalker = M.mel_windows(mel, 12, 25.0, rule="sadtalker")
    assert wav2lip.shape == (12, 80, 16)
    for i in range(12):
        start = int(i * 80 / 25)  # Wav2Lip inference: int(i * mel_idx_multiplier)
        index = np.clip(np.arange(start, start + 16), 0, 49)
        assert torch.equal(wav2lip[i], mel[:, index])
        start = int(math.floor(3.2 * (i - 2)))  # SadTalker get_data, indices clamped to [0, M-1]
        index = np.clip(np.arange(start, start + 16), 0, 49)
        assert torch.equal(sadtalker[i], mel[:, index])


def test_window_edges_and_other_fps():
    mel = torch.arange(80 * 20, dtype=torch.float32).reshape(80, 20)
    shifted = M.mel_windows(mel, 6, 25.0, edge="shift")
    clamped = M.mel_windows(mel, 6, 25.0, edge="clamp")
    # Wav2Lip's loop: the first window that would run past the end becomes mel[:, -16:] for the rest.
    assert all(torch.equal(shifted[i], mel[:, -16:]) for i in range(2, 6))  # starts 0, 3, then 6 + 16 > 20
    assert torch.equal(shifted[1], mel[:, 3:19])
    assert torch.equal(clamped[5][:, -1], mel[:, -1]) and torch.equal(clamped[5][:, 0], mel[:, 16])
    # At 30 fps the start advances 80 / 30 mel frames per video frame, floored.
    starts = M.window_starts(31, 30.0)
    assert starts.tolist() == [math.floor(i * 8 / 3) for i in range(31)]
    assert M.window_starts(3, 30000 / 1001).tolist() == [0, 2, 5]
