"""Built-in audio latents (paper §3.2, no weights): the Wav2Lip / SadTalker log-mel as per-frame features "mel80".

Kind "mel80", D = 320: each video frame's span is cut into 4 equal sub-steps (10 ms at 25 fps, 25 ms at
10 fps, 4.2 ms at 60 fps) and each sub-step holds the mean of the 80-band normalised log-mel over it
(alignment.py), laid out sub-step major: features[i, 80 k + b] = band b in sub-step k of frame i, in [-4, 4]
(-4 = silence). Four sub-steps keep the onset and release of a plosive inside one 40 ms frame, which a single
averaged vector would blur; the DiT's cross-attention over neighbouring frames supplies wider context.

Also here: the chunked 16 kHz conversion every encoder starts from.
"""
import logging

import torch

from .. import comfy_adapter
from .alignment import AlignedAudio, encode_frames
from .mel import MEL_FPS, N_MELS, log_mel_frames, num_mel_frames
from .resample import HALF_WIDTH_ZEROS, TARGET_RATE, output_length, rate_ratio, resample

log = logging.getLogger(__name__)

MEL80 = "mel80"
MEL80_SUB_STEPS = 4
MEL80_DIM = MEL80_SUB_STEPS * N_MELS  # 320
CHUNK_SECONDS = 30.0  # video seconds per chunk: a few MB of temporaries for the mel path


class MelCurve:
    """The log-mel of a 16 kHz waveform as a Curve: vector f = mel frame f, centred at f / 80 s."""

    rate = MEL_FPS
    t0 = 0.0
    dim = N_MELS

    def __init__(self, waveform_16k: "torch.Tensor | Waveform16k", pad_mode: str = "reflect"):
        self.waveform = waveform_16k  # [S16], or read slice by slice
        self.length = num_mel_frames(waveform_16k.shape[0])
        self.pad_mode = pad_mode

    def vectors(self, start: int, stop: int) -> torch.Tensor:
        return log_mel_frames(self.waveform, start, stop, self.pad_mode).transpose(0, 1)  # [n, 80]


def sub_step_points(curve_rate: float, fps: float, sub_steps: int) -> int:
    """Samples per sub-step: about two per curve vector, so the mean follows the curve (at least one)."""
    return max(1, int(-(-2 * curve_rate // (fps * sub_steps))))


def to_16k(aligned: AlignedAudio, device: torch.device, progress: comfy_adapter.Progress | None = None,
           units: int = 0, chunk_seconds: float = CHUNK_SECONDS) -> torch.Tensor:
    """The aligned mono waveform resampled to 16 kHz on `device`: [S16] float32, resampled chunk by chunk.

    `units` progress steps are spread over the chunks (the caller's bar also counts the feature chunks).
    """
    source = aligned.waveform
    total = output_length(source.shape[0], aligned.sample_rate, TARGET_RATE)
    out = torch.empty(total, dtype=torch.float32, device=device)
    chunk = max(int(chunk_seconds * TARGET_RATE), 1)
    starts = list(range(0, total, chunk))
    done = 0
    for n, start in enumerate(starts, 1):
        stop = min(start + chunk, total)
        # The resampler reads only the source samples this output range needs (plus the filter's reach).
        out[start:stop] = _resample_range(source, aligned.sample_rate, start, stop, device)
        if progress is not None:
            step = units * n // len(starts) - done
            done += step
            if step:
                progress.update(step)
            else:
                comfy_adapter.check_interrupt()
    return out


class Waveform16k:
    """The aligned waveform at 16 kHz, resampled on demand for each slice asked for; never held whole.

    Stands in for the [S16] tensor where only slices are read (the mel curve), so a long recording costs one
    chunk of 16 kHz samples instead of a second full-length copy (60 min: 230 MB). Each output sample depends
    only on its position (_resample_range), so slices agree with to_16k's chunks.
    """

    dtype = torch.float32

    def __init__(self, aligned: AlignedAudio, device: torch.device):
        self.source, self.rate, self.device = aligned.waveform, aligned.sample_rate, device
        self.shape = (output_length(self.source.shape[0], self.rate, TARGET_RATE),)

    def float(self) -> "Waveform16k":
        return self

    def new_zeros(self, *size) -> torch.Tensor:
        return torch.zeros(*size, dtype=self.dtype, device=self.device)

    def __getitem__(self, item: slice) -> torch.Tensor:
        if not isinstance(item, slice):
            raise TypeError("Waveform16k: only slices can be read")
        start, stop, step = item.indices(self.shape[0])
        if step != 1:
            raise TypeError("Waveform16k: only contiguous slices can be read")
        if stop <= start:
            return torch.zeros(0, dtype=self.dtype, device=self.device)
        return _resample_range(self.source, self.rate, start, stop, self.device).float()


def _resample_range(source: torch.Tensor, rate: int, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """16 kHz samples [start, stop) of `source` (at `rate`), reading only the source samples they depend on."""
    if rate == TARGET_RATE:
        return source[start:stop].to(device)
    up, down = rate_ratio(rate, TARGET_RATE)
    # Output m depends on source samples within 10 * max(up, down) / up of m * down / up (the filter's half
    # width, resample.py); one extra sample covers rounding.
    reach = -(-HALF_WIDTH_ZEROS * max(up, down) // up) + 1
    lo = max(0, start * down // up - reach)
    hi = min(source.shape[0], -(-stop * down // up) + reach)
    lo = (lo // down) * down  # start the piece on a sample shared by both grids: output offset = lo * up / down
    offset = lo // down * up
    return resample(source[lo:hi].to(device), rate, TARGET_RATE, start=start - offset, stop=stop - offset)


def mel80_features(waveform_16k: torch.Tensor, num_frames: int, fps: float,
                   progress: comfy_adapter.Progress | None = None, chunk_seconds: float = CHUNK_SECONDS,
                   pad_mode: str = "reflect") -> torch.Tensor:
    """Kind "mel80" features [T, 320] float32 (intermediate device) from the aligned 16 kHz waveform [S16]."""
    curve = MelCurve(waveform_16k, pad_mode)
    chunk_frames = max(1, int(chunk_seconds * fps))
    points = sub_step_points(curve.rate, fps, MEL80_SUB_STEPS)
    return encode_frames(curve, num_frames, fps, MEL80_SUB_STEPS, points, chunk_frames, progress)
