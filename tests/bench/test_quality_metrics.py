"""Quality metrics behave on constructed cases: true lag found, noise raises jitter, known blinks counted.

Lip sync is the library's (MoDiT Lip Sync Score); jitter and blinks are bench-only (bench/metric_*.py)."""
import numpy as np

from comfyui_modit.modit.quality.lip_sync import mouth_opening, speech_envelope, sync_offset

from ..bench_files import load_bench_module

detect_blinks = load_bench_module("metric_blinks").detect_blinks
landmark_jitter = load_bench_module("metric_jitter").landmark_jitter


def _speech_like(T, seed=0):
    rng = np.random.default_rng(seed)
    syllables = np.convolve(rng.random(T) > 0.7, np.hanning(7), mode="same")
    return syllables + 0.05 * rng.standard_normal(T)


def test_sync_finds_the_true_lag_and_prefers_aligned():
    envelope = _speech_like(250)
    aligned = envelope + 0.1 * np.random.default_rng(1).standard_normal(250)
    shifted = np.roll(aligned, 5)  # mouth 5 frames late
    in_sync, late = sync_offset(aligned, envelope), sync_offset(shifted, envelope)
    assert in_sync.offset == 0 and late.offset == 5
    at_zero = late.correlations[list(late.lags).index(0)]
    assert in_sync.correlation > at_zero + 0.3, "the clip in sync scores higher at zero lag than the shifted one"
    assert in_sync.confidence > 0.3


def test_mouth_opening_and_envelope_from_raw_data():
    sr, fps, T = 16000, 25, 50
    t = np.arange(sr * 2) / sr
    gate = (np.floor(t * fps) % 10) < 5  # loud for 5 frames, silent for 5
    envelope = speech_envelope(np.sin(2 * np.pi * 220 * t) * gate, sr, T, fps)
    assert envelope.shape == (T,) and envelope[:5].min() > envelope[5:10].max() + 20
    landmarks = np.zeros((T, 468, 3))
    landmarks[:, 152, 1] = 100.0  # chin 100 px below the forehead
    landmarks[:, 14, 1] = np.linspace(0, 20, T)
    assert np.allclose(mouth_opening(landmarks), np.linspace(0, 0.2, T))


def test_noise_raises_jitter():
    T = 100
    t = np.arange(T)[:, None, None]
    landmarks = np.zeros((T, 468, 2))
    landmarks[..., 0] = np.arange(468)[None, :]
    landmarks[:, 152, 1] = 200.0
    smooth = landmarks + 3.0 * np.sin(2 * np.pi * t / 50.0)  # slow head sway
    noisy = smooth + np.random.default_rng(0).normal(0, 0.5, smooth.shape)
    assert landmark_jitter(noisy) > 5 * landmark_jitter(smooth)


def test_three_known_blinks():
    fps = 25
    openness = np.ones(fps * 12)
    for start in (40, 130, 250):
        openness[start:start + 6] = [0.6, 0.2, 0.05, 0.1, 0.4, 0.8]
    stats = detect_blinks(openness, fps)
    assert len(stats.blinks) == 3
    assert [b.start for b in stats.blinks] == [41, 131, 251]
    assert stats.mean_depth > 0.9 and abs(stats.rate_per_minute - 15.0) < 1e-9
