"""The statistical blink sequence looks like people blinking: deep, short, at the asked rate, repeatable."""
import importlib.util
import os

import numpy as np
import pytest

from comfyui_modit.modit.blink.blink_sequence import BlinkConfig, blink_sequence, sample_blinks


def _bench_module(name: str):
    """bench/<name>.py (bench-only code, not part of the pack), loaded by its path."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench",
                        f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


detect_blinks = _bench_module("metric_blinks").detect_blinks  # the bench's blink meter

FPS = 25.0
TEN_MINUTES = int(10 * 60 * FPS)


def blink_runs(closure: np.ndarray, threshold: float = 0.05) -> list[tuple[int, int]]:
    """(start, end) frame spans where either eye is more than `threshold` closed."""
    active = np.append(closure.max(axis=1) > threshold, False)
    runs, start = [], None
    for i, on in enumerate(active):
        if on and start is None:
            start = i
        elif not on and start is not None:
            runs.append((start, i))
            start = None
    return runs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_blink_closes_the_eyes_and_lasts_3_to_10_frames(seed):
    closure = blink_sequence(TEN_MINUTES, FPS, BlinkConfig(rate_per_minute=20), seed).numpy()
    runs = blink_runs(closure)
    assert len(runs) > 100
    assert len(runs) == len(sample_blinks(TEN_MINUTES, FPS, BlinkConfig(rate_per_minute=20), seed))
    for start, end in runs:
        assert closure[start:end].min(axis=0).min() >= 0.0 and closure[start:end].max() <= 1.0
        assert (closure[start:end].max(axis=0) >= 0.9).all(), f"shallow blink at frames {start}-{end}"
        assert 3 <= end - start <= 10, f"blink at frame {start} lasts {end - start} frames"


def test_blinks_close_fast_and_open_slowly():
    blinks = sample_blinks(TEN_MINUTES, FPS, BlinkConfig(), seed=5)
    assert np.mean([b.open_frames for b in blinks]) > 1.4 * np.mean([b.close_frames for b in blinks])


def test_both_eyes_blink_together_with_tiny_asymmetry():
    closure = blink_sequence(TEN_MINUTES, FPS, seed=3).numpy()
    difference = np.abs(closure[:, 0] - closure[:, 1])
    assert difference.max() < 0.15
    assert difference.max() > 0.0  # not a copy of one eye


@pytest.mark.parametrize("rate", [8.0, 17.0, 26.0])
def test_rate_over_a_long_track_is_within_20_percent(rate):
    for seed in range(3):
        closure = blink_sequence(TEN_MINUTES, FPS, BlinkConfig(rate_per_minute=rate), seed).numpy()
        measured = len(blink_runs(closure)) / 10.0
        assert abs(measured - rate) <= 0.2 * rate, f"seed {seed}: {measured:.1f}/min for {rate}/min"
        # the bench's blink meter, which sees eye openness, agrees
        stats = detect_blinks(1.0 - closure, FPS)
        assert abs(stats.rate_per_minute - rate) <= 0.2 * rate


def test_refractory_gap_and_double_blinks():
    config = BlinkConfig(rate_per_minute=17)
    blinks = sample_blinks(TEN_MINUTES * 3, FPS, config, seed=11)
    gaps = np.diff([b.peak for b in blinks]) / FPS
    doubles = gaps < config.refractory_s
    assert 0 < doubles.sum() < 0.15 * len(blinks), "double blinks should be occasional"
    assert not (doubles[1:] & doubles[:-1]).any(), "no triple blinks"
    assert gaps[~doubles].min() >= config.refractory_s - 1 / FPS


def test_same_seed_same_blinks_other_seed_other_blinks():
    a = blink_sequence(3000, FPS, seed=42)
    assert (a == blink_sequence(3000, FPS, seed=42)).all()
    assert not (a == blink_sequence(3000, FPS, seed=43)).all()


def test_zero_rate_never_blinks_and_tiny_clips_work():
    assert blink_sequence(500, FPS, BlinkConfig(rate_per_minute=0)).abs().sum() == 0
    assert blink_sequence(0, FPS).shape == (0, 2)
    assert blink_sequence(2, FPS).shape == (2, 2)


def test_blinks_stay_3_frames_or_more_at_low_fps_and_scale_with_high_fps():
    for fps in (12.0, 60.0):
        closure = blink_sequence(int(300 * fps), fps, seed=1).numpy()
        lengths = [end - start for start, end in blink_runs(closure)]
        assert min(lengths) >= 3
        assert max(lengths) <= 0.42 * fps + 2  # about 400 ms at most


def test_blinks_never_merge_even_at_very_high_rates():
    closure = blink_sequence(TEN_MINUTES, FPS, BlinkConfig(rate_per_minute=60), seed=2).numpy()
    runs = blink_runs(closure)
    assert len(runs) == len(sample_blinks(TEN_MINUTES, FPS, BlinkConfig(rate_per_minute=60), seed=2))
    assert all(end - start <= 10 for start, end in runs)


def test_blinks_favour_pauses_in_speech_and_keep_their_rate():
    from comfyui_modit.modit.audio.loudness import speech_activity

    from .conftest import speech_like

    audio = speech_like(TEN_MINUTES)
    activity = speech_activity(audio.waveform, audio.sample_rate, FPS, TEN_MINUTES)
    pause = (activity == 0).numpy()
    share = {}
    for label, given in (("with", activity), ("without", None)):
        peaks = [b.peak for seed in range(3) for b in sample_blinks(TEN_MINUTES, FPS, BlinkConfig(), seed, given)]
        share[label] = pause[peaks].mean()
        assert abs(len(peaks) / 30.0 - 17.0) <= 0.2 * 17.0
    assert share["with"] > 1.5 * share["without"], share
    closure = blink_sequence(TEN_MINUTES, FPS, BlinkConfig(), 0, activity).numpy()
    for start, end in blink_runs(closure):
        assert 3 <= end - start <= 10 and closure[start:end].max(axis=0).min() >= 0.9
