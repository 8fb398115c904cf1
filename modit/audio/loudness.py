"""Per-frame loudness of a waveform: the mean square of each video frame's samples (modit/timing.py spans)."""
import numpy as np
import torch

from ..timing import frame_bounds

CHUNK_FRAMES = 256  # frames per step (~10 s at 25 fps): float64 squares of a chunk stay ~3 MB at 48 kHz


def frame_mean_square(waveform: torch.Tensor | np.ndarray, sample_rate: int, fps: float, num_frames: int) -> np.ndarray:
    """[T] float64 mean square per frame of a mono waveform [S] (zero-padded if shorter than the T frames).

    Chunked, so memory stays flat for long audio.
    """
    signal = torch.as_tensor(waveform).detach().reshape(-1).cpu()
    bounds = frame_bounds(num_frames, sample_rate, fps)
    if signal.shape[0] < bounds[-1]:
        signal = torch.nn.functional.pad(signal, (0, int(bounds[-1]) - signal.shape[0]))
    mean_square = np.zeros(num_frames)
    for start in range(0, num_frames, CHUNK_FRAMES):
        stop = min(num_frames, start + CHUNK_FRAMES)
        chunk = signal[bounds[start]:bounds[stop]].double().numpy() ** 2
        sums = np.add.reduceat(chunk, bounds[start:stop] - bounds[start])  # [frames in chunk]
        mean_square[start:stop] = sums / (bounds[start + 1:stop + 1] - bounds[start:stop])
    return mean_square
