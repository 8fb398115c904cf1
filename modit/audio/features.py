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
from ..chunks import run_in_chunks
from .alignment import AlignedAudio, encode_frames, frames_from_curve
from .mel import MEL_FPS, N_MELS, log_mel_frames, num_mel_frames
from .resample import TARGET_RATE, output_length, resample_range

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
    source = aligned.samples
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
        self.source, self.rate, self.device = aligned.samples, aligned.sample_rate, device
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


def _resample_range(source, rate: int, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """16 kHz samples [start, stop) of `source` (at `rate`), reading only the source samples they depend on."""
    return resample_range(source, rate, TARGET_RATE, start, stop, device)


class LazyRows:
    """What reads like a [T, D] float32 tensor but computes rows on demand: `shape`, `ndim`, `track[a:b]` (contiguous
    slices only, through the subclass's `rows(first, last)`), and `float()` as a no-op."""

    ndim = 2
    dtype = torch.float32

    def __getitem__(self, item: slice) -> torch.Tensor:
        if not isinstance(item, slice) or (item.step or 1) != 1:
            raise TypeError(f"{type(self).__name__}: only contiguous row slices can be read")
        first, last, _ = item.indices(self.shape[0])
        return self.rows(first, max(first, last))

    def float(self) -> "LazyRows":
        return self


class FeatureTrack(LazyRows):
    """Per-frame features [T, D] of a curve, computed for whatever frame range is asked for; never held whole.

    Reads like a [T, D] tensor where the pack reads features: `track[a:b]` gives rows a..b-1 (a sampling window),
    `shape`, `ndim`. The two whole-utterance statistics the DiT's normalisation needs (column mean [D], frame level
    [T], normalization.py) are computed once, in one chunked pass (`compute_stats`, Encode Audio runs it), so the
    only thing that grows with the recording is one float per frame. `tensor()` builds the whole [T, D] (60 min of
    mel80: 110 MB) for callers that want it.
    """

    def __init__(self, curve, num_frames: int, fps: float, sub_steps: int, points: int, chunk_frames: int):
        self.curve, self.fps, self.sub_steps, self.points = curve, fps, sub_steps, points
        self.chunk_frames = chunk_frames
        self.shape = (num_frames, sub_steps * curve.dim)
        self.stats = None  # (column mean [D] float32, frame level [T] float32), from compute_stats

    def rows(self, first: int, last: int) -> torch.Tensor:
        """Rows [first, last): [last - first, D] float32 on the intermediate device."""
        return frames_from_curve(self.curve, first, last, self.fps, self.sub_steps, self.points).to(
            comfy_adapter.intermediate_device(), torch.float32)

    def compute_stats(self, progress: comfy_adapter.Progress | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(column mean [D], frame level [T] = mean of each row), in one pass of chunks with Progress per chunk."""
        if self.stats is None:
            T, D = self.shape
            total = torch.zeros(D, dtype=torch.float64)
            level = torch.empty(T)

            def work(first: int, last: int) -> None:
                rows = self.rows(first, last).cpu()
                total.add_(rows.double().sum(0))
                level[first:last] = rows.mean(1)

            run_in_chunks(T, self.chunk_frames, work, "audio features",
                          None if progress is None else lambda a, b: progress.update(b - a))
            self.stats = ((total / max(T, 1)).float(), level)
        return self.stats

    def tensor(self) -> torch.Tensor:
        """All rows [T, D] float32 (intermediate device): feature-sized, for tests and benches."""
        return encode_frames(self.curve, self.shape[0], self.fps, self.sub_steps, self.points, self.chunk_frames)


class StackedTrack(LazyRows):
    """Kind "mel80+whisper4": a mel80 FeatureTrack beside a second track (Whisper's vectors), both computed per window.

    Rows are [mel80 (320) | extra (E)]. Only the mel80 part is utterance-centred (DiTConfig.utterance_norm_columns), so
    compute_stats() runs over the mel track alone (one cheap pass) and gives zero for the extra columns' mean: Whisper
    is then encoded once, window by window, when the sampler reads the rows, and never held whole.
    """

    def __init__(self, mel: FeatureTrack, extra: FeatureTrack):
        if extra.shape[0] != mel.shape[0]:
            raise ValueError(f"StackedTrack: {extra.shape[0]} extra rows for {mel.shape[0]} mel80 rows")
        self.mel, self.extra = mel, extra
        self.shape = (mel.shape[0], mel.shape[1] + extra.shape[1])
        self.stats_columns = mel.shape[1]  # compute_stats() covers these columns only

    def rows(self, first: int, last: int) -> torch.Tensor:
        return torch.cat([self.mel.rows(first, last), self.extra.rows(first, last)], dim=1)

    def compute_stats(self, progress: comfy_adapter.Progress | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(column mean [D] with zeros for the extra columns, frame level [T] of the mel80 columns)."""
        mean, level = self.mel.compute_stats(progress)
        return torch.cat([mean, mean.new_zeros(self.extra.shape[1])]), level

    def tensor(self) -> torch.Tensor:
        return torch.cat([self.mel.tensor(), self.extra.tensor()], dim=1)


def mel80_features(waveform_16k: torch.Tensor, num_frames: int, fps: float,
                   progress: comfy_adapter.Progress | None = None, chunk_seconds: float = CHUNK_SECONDS,
                   pad_mode: str = "reflect") -> torch.Tensor:
    """Kind "mel80" features [T, 320] float32 (intermediate device) from the aligned 16 kHz waveform [S16]."""
    curve = MelCurve(waveform_16k, pad_mode)
    chunk_frames = max(1, int(chunk_seconds * fps))
    points = sub_step_points(curve.rate, fps, MEL80_SUB_STEPS)
    return encode_frames(curve, num_frames, fps, MEL80_SUB_STEPS, points, chunk_frames, progress)
