"""Audio latents A_1..n aligned to video frames (paper §3.2): input checks, the frame rule, the chunked frame loop.

Every feature kind is a "curve": vectors at a fixed rate (log-mel 80 Hz, HuBERT / wav2vec2 50 Hz) with a known
time for its first vector. Video frame i covers [i / fps, (i + 1) / fps) (timing.py). Its feature row is that
span cut into `sub_steps` equal parts, each part holding the mean of the linearly interpolated curve over the
part (estimated from `points` evenly spaced samples), so a curve faster than the video is averaged rather than
aliased, and one slower than the video is interpolated. Rows are [sub_steps * D0]: sub-step major, curve
channel minor.

Long audio runs in chunks of video frames: each chunk asks the curve for just the vectors it needs, so
memory is bounded by a chunk, with Progress (and Cancel) per chunk and the chunk halved on out-of-memory.
The built-in mel never holds the [T, D] result either: its FeatureTrack (features.py) computes the rows a
sampling window asks for.
"""
import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import torch

from .. import comfy_adapter
from ..chunks import run_in_chunks
from ..timing import exact_fps, frames_for_samples, samples_for_frames
from .samples import Samples, StreamedAudio, TensorSamples

log = logging.getLogger(__name__)

_CHECK_CHUNK = 1 << 20  # samples per step of the input check and downmix


@dataclass(frozen=True)
class AlignedAudio:
    """Mono audio trimmed/padded to whole video frames (the ceil rule of timing.py), read in windows."""

    samples: Samples  # mono, length S == samples_for_frames(num_frames) at sample_rate; slices like a [S] tensor
    sample_rate: int
    num_frames: int  # T = ceil(S_in * fps / sample_rate)
    fps: float

    def __post_init__(self):
        if torch.is_tensor(self.samples):  # a [S] tensor (tests, training code): viewed, not copied
            object.__setattr__(self, "samples", TensorSamples(self.samples, self.sample_rate))

    @property
    def waveform(self) -> torch.Tensor:
        """All S samples as one [S] float32 tensor (audio-sized; pack code reads `samples` in windows)."""
        return self.samples.tensor()[0]


def align_audio(audio: dict | None, fps: float) -> AlignedAudio:
    """Check a core AUDIO dict and return it as mono, zero-padded to exactly cover T video frames.

    T = ceil(S * fps / sample_rate): a partial last frame counts, so no speech is cut. Batch item 0 is used
    (as core CreateVideo does); channels are averaged. Silence is valid; an empty, non-finite or
    shorter-than-one-frame recording is a ValueError that says what to do. Nothing is copied: the result reads
    the recording (a tensor, or a StreamedAudio's file) window by window, with the mix and the padding applied
    per window.
    """
    if audio is None:
        raise ValueError("audio: got None (a video without an audio track gives this); connect a LoadAudio node or "
                         "a video that has sound")
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise ValueError(f"audio: expected a core AUDIO dict {{'waveform': [B, C, S], 'sample_rate': int}}, "
                         f"got {type(audio).__name__}")
    sample_rate = audio["sample_rate"]
    try:
        sample_rate = int(sample_rate)
    except (TypeError, ValueError):
        raise ValueError(f"audio: sample_rate must be a positive integer, got {sample_rate!r}") from None
    if sample_rate <= 0:
        raise ValueError(f"audio: sample_rate must be a positive integer, got {sample_rate}")
    if not fps > 0 or not math.isfinite(fps):
        raise ValueError(f"fps must be a positive number, got {fps}")
    if isinstance(audio, StreamedAudio):
        samples = audio.samples
        B = 1
    else:
        waveform = audio["waveform"]
        if not torch.is_tensor(waveform) or waveform.ndim not in (2, 3):
            shape = tuple(waveform.shape) if torch.is_tensor(waveform) else type(waveform).__name__
            raise ValueError(f"audio: waveform must be a tensor [B, C, S], got {shape}")
        if waveform.ndim == 2:
            waveform = waveform.unsqueeze(0)  # [C, S] -> [1, C, S]
        B = waveform.shape[0]
        samples = TensorSamples(waveform[0], sample_rate) if B else None
    C, S = (samples.channels, samples.length) if samples is not None else (0, 0)
    if B == 0 or C == 0 or S == 0:
        raise ValueError(f"audio: the recording is empty (waveform shape {(B, C, S)}); load a file that has sound")
    if B > 1:
        log.warning("audio: batch of %d recordings; encoding the first one only (as CreateVideo does)", B)
    if Fraction(S) * exact_fps(fps) < sample_rate:
        raise ValueError(f"audio: {S} samples ({1000 * S / sample_rate:.1f} ms) is shorter than one video frame "
                         f"({1000 / fps:.1f} ms at {fps} fps); use a longer recording")
    num_frames = frames_for_samples(S, sample_rate, fps)
    _check_finite(samples)
    log.info("audio: %.2f s at %d Hz, %d channel(s) -> %d frames at %g fps", S / sample_rate, sample_rate, C,
             num_frames, fps)
    mono = samples.mono().with_length(samples_for_frames(num_frames, sample_rate, fps))
    return AlignedAudio(samples=mono, sample_rate=sample_rate, num_frames=num_frames, fps=fps)


def _check_finite(samples: Samples) -> None:
    """ValueError naming the count and the first time of NaN / infinite samples; read in chunks."""
    bad, first_bad = 0, None
    for start, piece in samples.chunks(_CHECK_CHUNK):  # [C, n]
        finite = torch.isfinite(piece).all(dim=0)  # [n]
        if not bool(finite.all()):
            bad += int((~finite).sum())
            first_bad = first_bad if first_bad is not None else start + int((~finite).nonzero()[0, 0])
    if bad:
        raise ValueError(f"audio: {bad} samples are NaN or infinite (first at {first_bad / samples.sample_rate:.3f} s); "
                         f"the file is damaged or an upstream node overflowed: re-export the audio")

# ------------------------------------------------------------------------------------------ curves


class Curve(Protocol):
    """Feature vectors at a fixed rate, computed on demand for any index range."""

    rate: float  # vectors per second
    t0: float  # time in seconds of vector 0
    length: int  # N vectors in the whole recording
    dim: int  # D0 channels per vector

    def vectors(self, start: int, stop: int) -> torch.Tensor:
        """Vectors [start, stop) as [stop - start, D0] float on the compute device."""


def sample_positions(first: int, last: int, fps: float, curve: Curve, sub_steps: int, points: int) -> torch.Tensor:
    """Fractional curve indices [F, sub_steps, points] (float64) of the sample times of frames first..last-1."""
    frame = torch.arange(first, last, dtype=torch.float64)[:, None, None]
    sub = torch.arange(sub_steps, dtype=torch.float64)[None, :, None]
    point = (torch.arange(points, dtype=torch.float64)[None, None, :] + 0.5) / points
    seconds = (frame + (sub + point) / sub_steps) / fps  # [F, K, P]
    return ((seconds - curve.t0) * curve.rate).clamp(0, curve.length - 1)


def frames_from_curve(curve: Curve, first: int, last: int, fps: float, sub_steps: int, points: int) -> torch.Tensor:
    """Feature rows of frames [first, last): [last - first, sub_steps * D0] on the curve's device."""
    position = sample_positions(first, last, fps, curve, sub_steps, points)  # [F, K, P]
    lo = int(position.min().floor())
    hi = min(int(position.max().floor()) + 2, curve.length)
    vectors = curve.vectors(lo, hi)  # [n, D0]
    local = position - lo
    left = local.floor().long().clamp(max=hi - lo - 1)
    right = (left + 1).clamp(max=hi - lo - 1)
    weight = (local - left).to(device=vectors.device, dtype=vectors.dtype).unsqueeze(-1)  # [F, K, P, 1]
    left, right = left.to(vectors.device), right.to(vectors.device)
    value = vectors[left] * (1 - weight) + vectors[right] * weight  # [F, K, P, D0]
    return value.mean(dim=2).flatten(1)  # [F, K * D0]


def encode_frames(curve: Curve, num_frames: int, fps: float, sub_steps: int, points: int, chunk_frames: int,
                  progress: comfy_adapter.Progress | None = None) -> torch.Tensor:
    """Per-frame features [T, sub_steps * D0] float32 on the intermediate device, computed chunk by chunk.

    Each chunk of `chunk_frames` video frames reads only the curve vectors it needs (halved on out-of-memory,
    chunks.py).
    """
    out = torch.empty(num_frames, sub_steps * curve.dim, dtype=torch.float32,
                      device=comfy_adapter.intermediate_device())

    def work(first: int, last: int) -> None:
        out[first:last] = frames_from_curve(curve, first, last, fps, sub_steps, points).to(out)

    run_in_chunks(num_frames, chunk_frames, work, "audio features",
                  None if progress is None else lambda a, b: progress.update(b - a))
    return out
