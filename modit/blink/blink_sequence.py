"""The blink sequence of paper §3.4.4 (degree of eye closure per frame), drawn from human blink statistics.

This is the default that needs no weights. It follows what is measured on people talking:
- spontaneous blinks come 15-20 times a minute in conversation, never closer than a refractory gap (about
  half a second) except in double blinks, with inter-blink intervals that scatter widely (we draw the time
  beyond the refractory gap from a gamma distribution);
- one blink lasts roughly 100-400 ms: the lid falls fast and rises about twice as slowly (Trutoiu et al.,
  "Modeling and Animating Eye Blinks", ACM TAP 2011);
- both eyes close together, with a tiny difference in depth and timing;
- now and then a second blink follows right after the first (a double blink);
- blinks cluster in pauses and at phrase ends rather than mid-word (with speech activity given, each blink
  drifts a little toward the nearest quiet moment).

Notation: T frames at `fps`; a blink peaks (eye fully closed) on frame `peak`, takes `close_frames` frames
to close before it and `open_frames` frames to reopen after it, so it touches close_frames + 1 + open_frames
frames. Closure 0 = the eye as in the source portrait, 1 = closed (modit.types.EYE_CHANNELS: left, right).
"""
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..motion.filters import gaussian_smooth


@dataclass(frozen=True)
class BlinkConfig:
    """Statistics of spontaneous blinking; the defaults describe an adult talking at ease."""

    rate_per_minute: float = 17.0  # blinks per minute, double blinks counted as two; 0 = never blink
    refractory_s: float = 0.6  # shortest onset-to-onset gap between blink events (double blinks aside)
    interval_shape: float = 2.0  # gamma shape of the interval beyond the refractory gap (1 = memoryless)
    duration_median_s: float = 0.22  # median blink length, first to last touched frame
    duration_spread: float = 0.3  # log-normal sigma of the blink length
    duration_range_s: tuple = (0.1, 0.4)  # blink lengths are clipped to this range
    close_fraction: float = 0.33  # share of the blink spent closing: the lid falls fast and rises slowly
    double_blink_probability: float = 0.07  # chance that a blink event is a double blink
    double_gap_s: tuple = (0.04, 0.16)  # open time between the two blinks of a double blink
    min_depth: float = 0.96  # every blink closes the eye at least this far (the shallower eye included)
    asymmetry: float = 0.015  # typical depth difference between the eyes
    max_lag_frames: float = 0.12  # the right eye may trail or lead the left by this fraction of a frame
    pause_window_s: float = 0.35  # with speech activity given, a blink may move this far toward a pause
    pause_pull: float = 0.5  # cost of moving the whole window, against activity 0..1 of the frame moved to

    def __post_init__(self):
        if not 0 <= self.rate_per_minute <= 120:
            raise ValueError(f"blink rate: expected 0..120 blinks per minute, got {self.rate_per_minute}")
        low, high = self.duration_range_s
        if not 0 < low <= high:
            raise ValueError(f"blink duration range: expected 0 < low <= high seconds, got {self.duration_range_s}")


@dataclass(frozen=True)
class Blink:
    """One blink on the frame grid; depth and lag per eye (left, right)."""

    peak: int  # frame where the eye is closed
    close_frames: int  # frames spent closing before the peak (>= 1)
    open_frames: int  # frames spent opening after the peak (>= 1)
    depth: tuple  # (left, right) closure reached at the peak, <= 1
    lag: tuple  # (left, right) sub-frame timing offset of each eye, in frames

    @property
    def first_frame(self) -> int:
        return self.peak - self.close_frames

    @property
    def last_frame(self) -> int:
        return self.peak + self.open_frames


def _blink_shape(fps: float, config: BlinkConfig, rng: np.random.Generator) -> tuple[int, int]:
    """(close_frames, open_frames) of one blink: a log-normal length, split into a fast close and a slow open."""
    low, high = config.duration_range_s
    seconds = float(np.clip(config.duration_median_s * math.exp(config.duration_spread * rng.standard_normal()), low, high))
    touched = max(3, round(seconds * fps))  # at least one closing, one closed and one opening frame
    close_frames = max(1, round(config.close_fraction * (touched - 1)))
    open_frames = max(1, touched - 1 - close_frames)
    return close_frames, open_frames


def _eyes(config: BlinkConfig, rng: np.random.Generator) -> tuple[tuple, tuple]:
    """Per-eye depth and lag: the eyes close together and almost equally deep."""
    depth = rng.uniform(config.min_depth + config.asymmetry, 1.0)
    difference = float(np.clip(rng.normal(0.0, config.asymmetry), -config.asymmetry, config.asymmetry))
    depths = (min(1.0, depth + difference / 2), min(1.0, depth - difference / 2))
    lag = float(rng.uniform(-config.max_lag_frames, config.max_lag_frames))
    return depths, (0.0, lag)


def _toward_pause(peak: int, earliest: int, activity: np.ndarray, window: int, pull: float) -> int:
    """The frame near `peak` (within `window`, not before `earliest`) that best trades speech activity for
    distance: people tend to blink in pauses and at phrase ends."""
    candidates = np.arange(max(peak - window, earliest, 0), min(peak + window, activity.shape[0] - 1) + 1)
    if candidates.size == 0:
        return peak
    cost = activity[candidates] + pull * np.abs(candidates - peak) / max(window, 1)
    return int(candidates[np.argmin(cost)])


def sample_blinks(num_frames: int, fps: float, config: BlinkConfig, seed: int,
                  activity: torch.Tensor | None = None) -> list[Blink]:
    """Blink events for a clip of num_frames at fps, deterministic for a seed. Every blink lies wholly
    inside the clip, so each one both closes and reopens on screen.

    activity: optional speech activity [T] in 0..1; each blink event then drifts (at most pause_window_s)
    toward a quieter frame. Timing statistics barely change and the seed still fixes everything.
    """
    if config.rate_per_minute <= 0 or num_frames < 3:
        return []
    rng = np.random.default_rng([int(seed), 0xB11C])
    # Double blinks add blinks, so blink *events* come a little less often than the requested rate.
    event_interval = 60.0 / config.rate_per_minute * (1.0 + config.double_blink_probability)
    refractory = min(config.refractory_s, 0.5 * event_interval)
    mean_beyond = event_interval - refractory
    scale = mean_beyond / config.interval_shape
    quiet = None
    if activity is not None:
        if activity.shape != (num_frames,):
            raise ValueError(f"speech activity must be [{num_frames}], got {tuple(activity.shape)}")
        quiet = gaussian_smooth(activity.double().cpu().numpy(), 2.0)  # [T]; a pause, not one quiet frame
    window = round(config.pause_window_s * fps)

    blinks = []
    # The clip starts mid-stream: the first event comes after a uniform share of one interval.
    time = float(rng.uniform(0.15, 0.15 + event_interval))
    earliest = 0.15  # seconds: no blink event may peak before this (refractory gap, previous blink reopened)
    while True:
        events = 2 if rng.random() < config.double_blink_probability else 1
        placed = []
        for _ in range(events):
            close_frames, open_frames = _blink_shape(fps, config, rng)
            if placed:  # the second blink of a double starts after the first has reopened
                gap = max(1, round(rng.uniform(*config.double_gap_s) * fps))
                peak = placed[-1].last_frame + gap + close_frames + 1
            else:
                peak = round(time * fps)
                if quiet is not None:
                    peak = _toward_pause(peak, math.ceil(earliest * fps), quiet, window, config.pause_pull)
                    time = peak / fps
            depths, lag = _eyes(config, rng)
            placed.append(Blink(peak, close_frames, open_frames, depths, lag))
        if placed[0].first_frame >= num_frames:
            break
        blinks.extend(b for b in placed if b.first_frame >= 0 and b.last_frame < num_frames)
        # The refractory gap counts from the last blink of a double, and the next blink may only start
        # closing once that one has reopened (even at rates so high that the gap shrinks).
        reopened = (placed[-1].last_frame + 3) / fps + config.close_fraction * config.duration_range_s[1]
        earliest = max(placed[-1].peak / fps + refractory, reopened)
        time = max(time + refractory + rng.gamma(config.interval_shape, scale), earliest)
    return blinks


def render_blinks(blinks: list[Blink], num_frames: int) -> torch.Tensor:
    """Eye closure [T, 2] float32 in 0..1 (left, right) from blink events.

    Each eye follows sin^2 ease-in/ease-out ramps: up over close_frames + 1 frame steps to the peak, down over
    open_frames + 1, so the lid has no velocity jump at either end. Overlapping blinks take the maximum.
    """
    closure = np.zeros((num_frames, 2), dtype=np.float64)
    for blink in blinks:
        frames = np.arange(blink.first_frame - 1, blink.last_frame + 2)
        frames = frames[(frames >= 0) & (frames < num_frames)]
        for eye in range(2):
            offset = frames - (blink.peak + blink.lag[eye])  # frames from this eye's closed instant
            rising = 1.0 + offset / (blink.close_frames + 1)
            falling = 1.0 - offset / (blink.open_frames + 1)
            phase = np.clip(np.where(offset <= 0, rising, falling), 0.0, 1.0)
            value = blink.depth[eye] * np.sin(0.5 * math.pi * phase) ** 2
            closure[frames, eye] = np.maximum(closure[frames, eye], value)
    return torch.from_numpy(closure).float()


def blink_sequence(num_frames: int, fps: float, config: BlinkConfig | None = None, seed: int = 0,
                   activity: torch.Tensor | None = None) -> torch.Tensor:
    """The statistical blink sequence: eye closure [T, 2] float32 in 0..1, deterministic per seed.

    activity: optional speech activity [T] 0..1 (audio/loudness.py: speech_activity); blinks then favour pauses.
    """
    config = config or BlinkConfig()
    return render_blinks(sample_blinks(num_frames, fps, config, seed, activity), num_frames)
