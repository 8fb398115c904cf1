"""Per-frame loudness of a waveform: the mean square of each video frame's samples (modit/timing.py spans)."""
import numpy as np
import torch

from ..timing import frame_bounds
from .samples import Samples, TensorSamples

CHUNK_FRAMES = 256  # frames per step (~10 s at 25 fps): float64 squares of a chunk stay ~3 MB at 48 kHz


def frame_mean_square(waveform, sample_rate: int, fps: float, num_frames: int) -> np.ndarray:
    """[T] float64 mean square per frame of mono audio (zero-padded if shorter than the T frames).

    waveform: a [S] tensor or array, or a mono samples.Samples (read a chunk at a time). Chunked, so memory stays
    flat for long audio.
    """
    signal = waveform if isinstance(waveform, Samples) else TensorSamples(
        torch.as_tensor(waveform).detach().reshape(-1), sample_rate)
    bounds = frame_bounds(num_frames, sample_rate, fps)
    mean_square = np.zeros(num_frames)
    for start in range(0, num_frames, CHUNK_FRAMES):
        stop = min(num_frames, start + CHUNK_FRAMES)
        chunk = signal.read(int(bounds[start]), int(bounds[stop]))[0].double().numpy() ** 2
        sums = np.add.reduceat(chunk, bounds[start:stop] - bounds[start])  # [frames in chunk]
        mean_square[start:stop] = sums / (bounds[start + 1:stop + 1] - bounds[start:stop])
    return mean_square


def frame_level(waveform, sample_rate: int, fps: float, num_frames: int) -> np.ndarray:
    """[T] float64 RMS level per frame in dBFS (frame_mean_square); digital silence reads -180."""
    mean_square = frame_mean_square(waveform, sample_rate, fps, num_frames)
    return 10.0 * np.log10(np.maximum(mean_square, 0.0) + 1e-18)


def speech_activity(waveform: torch.Tensor, sample_rate: int, fps: float, num_frames: int) -> torch.Tensor:
    """How much speech each frame carries: [T] float32 in 0..1 (0 for silence).

    Per-frame RMS level in dBFS, mapped linearly from 35 dB below the clip's loud level (its 95th percentile,
    at least -40 dBFS so quiet noise never counts as speech) to that level; below -55 dBFS is silence.
    """
    if num_frames == 0:
        return torch.zeros(0)
    return activity_of_level(frame_level(waveform, sample_rate, fps, num_frames))


def activity_of_level(level: np.ndarray) -> torch.Tensor:
    """speech_activity from the frames' levels [T] in dBFS (frame_level), for callers that also need the levels."""
    loud = max(float(np.percentile(level, 95)), -40.0)
    activity = np.clip((level - (loud - 35.0)) / 35.0, 0.0, 1.0)
    activity[level < -55.0] = 0.0
    return torch.from_numpy(activity).float()
