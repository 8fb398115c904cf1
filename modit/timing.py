"""The one rule that keeps audio samples and video frames aligned everywhere in the pack.

A clip of S samples at sample rate sr, shown at fps, has T = ceil(S * fps / sr) frames: a partial last frame
still counts, so no speech is cut. The audio that goes with T frames is exactly samples_for_frames(T) =
ceil(T * sr / fps) samples long (zero-padded at the end), which is also what core `CreateVideo` keeps.
Frame i covers the time span [i / fps, (i + 1) / fps).
"""
import math
from fractions import Fraction


def _exact(value: float) -> Fraction:
    # fps like 29.97 arrive as floats; limit_denominator keeps 30000/1001-style rates exact.
    return Fraction(value).limit_denominator(100000)


def frames_for_samples(num_samples: int, sample_rate: int, fps: float) -> int:
    """Number of video frames T for num_samples of audio (ceil rule)."""
    if num_samples <= 0:
        return 0
    return math.ceil(Fraction(num_samples) * _exact(fps) / sample_rate)


def samples_for_frames(num_frames: int, sample_rate: int, fps: float) -> int:
    """Number of audio samples that exactly cover num_frames video frames (ceil rule, as core CreateVideo)."""
    if num_frames <= 0:
        return 0
    return math.ceil(Fraction(num_frames) * sample_rate / _exact(fps))


def frame_of_time(seconds: float, fps: float) -> int:
    """Index of the video frame showing time `seconds` (floor rule)."""
    return math.floor(Fraction(seconds) * _exact(fps))
