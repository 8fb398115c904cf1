"""Blink statistics (bench-only meter) from a per-frame eye-openness curve: count, rate, closure depth and duration."""
from dataclasses import dataclass

import numpy as np


@dataclass
class Blink:
    start: int  # first frame below the threshold
    end: int  # first frame back above it
    depth: float  # closure at the deepest frame: 1 - openness / baseline (1 = fully closed)


@dataclass
class BlinkStats:
    blinks: list
    rate_per_minute: float
    mean_depth: float
    mean_duration_frames: float


def detect_blinks(openness: np.ndarray, fps: float, threshold: float = 0.5) -> BlinkStats:
    """Blinks in an openness curve [T] (or [T, 2], averaged): runs where openness falls below threshold x the
    open baseline (the curve's 90th percentile)."""
    curve = np.asarray(openness, dtype=np.float64)
    if curve.ndim == 2:
        curve = curve.mean(axis=1)
    baseline = max(np.percentile(curve, 90), 1e-6)
    closed = curve < threshold * baseline
    blinks, start = [], None
    for i, is_closed in enumerate(np.append(closed, False)):
        if is_closed and start is None:
            start = i
        elif not is_closed and start is not None:
            depth = float(1.0 - curve[start:i].min() / baseline)
            blinks.append(Blink(start, i, min(max(depth, 0.0), 1.0)))
            start = None
    minutes = curve.shape[0] / fps / 60.0
    return BlinkStats(blinks=blinks, rate_per_minute=len(blinks) / minutes if minutes > 0 else 0.0,
                      mean_depth=float(np.mean([b.depth for b in blinks])) if blinks else 0.0,
                      mean_duration_frames=float(np.mean([b.end - b.start for b in blinks])) if blinks else 0.0)
