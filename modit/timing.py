"""The one rule that keeps audio samples and video frames aligned everywhere in the pack.

The audio that goes with T frames is exactly samples_for_frames(T) = ceil(T * sr / fps) samples long, which is
also what core `CreateVideo` keeps. A clip of S samples gets the fewest frames whose audio covers it: T is the
smallest count with samples_for_frames(T) >= S (that is ceil(S * fps / sr), or one less when the rounding up to
whole samples already covers S). A partial last frame still counts, so no speech is cut, and the audio is
zero-padded at the end to samples_for_frames(T); padding to the rule never changes T.
Frame i covers the time span [i / fps, (i + 1) / fps).
"""
import math
from fractions import Fraction

import numpy as np


def exact_fps(fps: float) -> Fraction:
    """The frame rate as the exact fraction every stage computes with (25, 2997/100, 30000/1001, ...).

    fps arrive as floats; denominators up to 1001 keep 25, 29.97 and 30000/1001 (NTSC) rates exact.
    """
    return Fraction(fps).limit_denominator(1001)


def frames_for_samples(num_samples: int, sample_rate: int, fps: float) -> int:
    """Number of video frames T for num_samples of audio: the fewest whose audio covers every sample."""
    if num_samples <= 0:
        return 0
    frames = math.ceil(Fraction(num_samples) * exact_fps(fps) / sample_rate)
    if frames > 1 and samples_for_frames(frames - 1, sample_rate, fps) >= num_samples:
        frames -= 1
    return frames


def samples_for_frames(num_frames: int, sample_rate: int, fps: float) -> int:
    """Number of audio samples that exactly cover num_frames video frames (ceil rule, as core CreateVideo)."""
    if num_frames <= 0:
        return 0
    return math.ceil(Fraction(num_frames) * sample_rate / exact_fps(fps))


def frame_of_time(seconds: float, fps: float) -> int:
    """Index of the video frame showing time `seconds` (floor rule)."""
    return math.floor(Fraction(seconds) * exact_fps(fps))


def frame_bounds(num_frames: int, sample_rate: int, fps: float) -> np.ndarray:
    """Sample index where each frame starts, plus the end: [T + 1] int64, bounds[i] == samples_for_frames(i)."""
    rate = exact_fps(fps)
    frames = np.arange(num_frames + 1, dtype=np.int64)
    return -((-frames * sample_rate * rate.denominator) // rate.numerator)  # ceil(i * sr / fps), exact
