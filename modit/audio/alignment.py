"""Audio latents A_1..n aligned to video frames (paper §3.2): input checks, the frame rule, the chunked frame loop.

Every feature kind is a "curve": vectors at a fixed rate (log-mel 80 Hz, HuBERT / wav2vec2 50 Hz) with a known
time for its first vector. Video frame i covers [i / fps, (i + 1) / fps) (timing.py). Its feature row is that
span cut into `sub_steps` equal parts, each part holding the mean of the linearly interpolated curve over the
part (estimated from `points` evenly spaced samples), so a curve faster than the video is averaged rather than
aliased, and one slower than the video is interpolated. Rows are [sub_steps * D0]: sub-step major, curve
channel minor.

Long audio runs in chunks of video frames: each chunk asks the curve for just the vectors it needs, so
memory is bounded by a chunk (plus the [T, D] result), with Progress (and Cancel) per chunk and the chunk
halved on out-of-memory.
"""
import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import torch

from .. import comfy_adapter
from ..timing import exact_fps, frames_for_samples, samples_for_frames

log = logging.getLogger(__name__)

_CHECK_CHUNK = 1 << 20  # samples per step of the input check and downmix


@dataclass(frozen=True)
class AlignedAudio:
    """Mono audio trimmed/padded to whole video frames (the ceil rule of timing.py)."""

    waveform: torch.Tensor  # [S] float32 mono in -1..1 at sample_rate, S == samples_for_frames(num_frames)
    sample_rate: int
    num_frames: int  # T = ceil(S_in * fps / sample_rate)
    fps: float


def align_audio(audio: dict | None, fps: float) -> AlignedAudio:
    """Check a core AUDIO dict and return it as mono, zero-padded to exactly cover T video frames.

    T = ceil(S * fps / sample_rate): a partial last frame counts, so no speech is cut. Batch item 0 is used
    (as core CreateVideo does); channels are averaged. Silence is valid; an empty, non-finite or
    shorter-than-one-frame recording is a ValueError that says what to do.
    """
    if audio is None:
        raise ValueError("audio: got None (a video without an audio track gives this); connect a LoadAudio node or "
                         "a video that has sound")
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise ValueError(f"audio: expected a core AUDIO dict {{'waveform': [B, C, S], 'sample_rate': int}}, "
                         f"got {type(audio).__name__}")
    waveform, sample_rate = audio["waveform"], audio["sample_rate"]
    if not torch.is_tensor(waveform) or waveform.ndim not in (2, 3):
        shape = tuple(waveform.shape) if torch.is_tensor(waveform) else type(waveform).__name__
        raise ValueError(f"audio: waveform must be a tensor [B, C, S], got {shape}")
    if waveform.ndim == 2:
        waveform = waveform.unsqueeze(0)  # [C, S] -> [1, C, S]
    try:
        sample_rate = int(sample_rate)
    except (TypeError, ValueError):
        raise ValueError(f"audio: sample_rate must be a positive integer, got {sample_rate!r}") from None
    if sample_rate <= 0:
        raise ValueError(f"audio: sample_rate must be a positive integer, got {sample_rate}")
    if not fps > 0 or not math.isfinite(fps):
        raise ValueError(f"fps must be a positive number, got {fps}")
    B, C, S = waveform.shape
    if B == 0 or C == 0 or S == 0:
        raise ValueError(f"audio: the recording is empty (waveform shape {(B, C, S)}); load a file that has sound")
    if B > 1:
        log.warning("audio: batch of %d recordings; encoding the first one only (as CreateVideo does)", B)
    samples = waveform[0]  # [C, S]
    if Fraction(S) * exact_fps(fps) < sample_rate:
        raise ValueError(f"audio: {S} samples ({1000 * S / sample_rate:.1f} ms) is shorter than one video frame "
                         f"({1000 / fps:.1f} ms at {fps} fps); use a longer recording")
    num_frames = frames_for_samples(S, sample_rate, fps)
    total = samples_for_frames(num_frames, sample_rate, fps)
    if C == 1 and S == total and samples.dtype == torch.float32:
        # Already mono and whole frames long (e.g. 22.05 kHz at 25 fps, whole seconds): the recording itself
        # is the aligned audio, so no second copy is made (ComfyUI keeps the input AUDIO anyway).
        mono = samples[0]
        first_bad = _first_non_finite(mono)
        if first_bad is not None:
            bad = int((~torch.isfinite(mono)).sum())
            raise ValueError(f"audio: {bad} samples are NaN or infinite (first at {first_bad / sample_rate:.3f} s); "
                             f"the file is damaged or an upstream node overflowed: re-export the audio")
        log.info("audio: %.2f s at %d Hz, 1 channel -> %d frames at %g fps (used as is)", S / sample_rate,
                 sample_rate, num_frames, fps)
        return AlignedAudio(waveform=mono, sample_rate=sample_rate, num_frames=num_frames, fps=fps)
    mono = torch.zeros(total, dtype=torch.float32, device=samples.device)  # [S_aligned], zeros after the speech
    bad, first_bad = 0, None
    for start in range(0, S, _CHECK_CHUNK):  # chunked, so no [C, S] temporaries on long recordings
        piece = samples[:, start:start + _CHECK_CHUNK].float()  # [C, n]
        finite = torch.isfinite(piece).all(dim=0)  # [n]
        if not bool(finite.all()):
            bad += int((~finite).sum())
            first_bad = first_bad if first_bad is not None else start + int((~finite).nonzero()[0, 0])
            continue
        torch.mean(piece, dim=0, out=mono[start:start + piece.shape[1]])
    if bad:
        raise ValueError(f"audio: {bad} samples are NaN or infinite (first at {first_bad / sample_rate:.3f} s); "
                         f"the file is damaged or an upstream node overflowed: re-export the audio")
    log.info("audio: %.2f s at %d Hz, %d channel(s) -> %d frames at %g fps", S / sample_rate, sample_rate, C,
             num_frames, fps)
    return AlignedAudio(waveform=mono, sample_rate=sample_rate, num_frames=num_frames, fps=fps)

def _first_non_finite(samples: torch.Tensor) -> int | None:
    """Index of the first NaN / infinite sample of a 1-D tensor, checked in chunks (no [S] temporaries)."""
    for start in range(0, samples.shape[0], _CHECK_CHUNK):
        finite = torch.isfinite(samples[start:start + _CHECK_CHUNK])
        if not bool(finite.all()):
            return start + int((~finite).nonzero()[0, 0])
    return None

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


def _frames_from_curve(curve: Curve, first: int, last: int, fps: float, sub_steps: int, points: int) -> torch.Tensor:
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

    Each chunk of `chunk_frames` video frames reads only the curve vectors it needs; on out-of-memory the
    chunk is halved and the smaller size kept (the next chunks need the same memory).
    """
    out = torch.empty(num_frames, sub_steps * curve.dim, dtype=torch.float32,
                      device=comfy_adapter.intermediate_device())
    first = 0
    while first < num_frames:
        last = min(first + chunk_frames, num_frames)
        try:
            out[first:last] = _frames_from_curve(curve, first, last, fps, sub_steps, points).to(out)
        except RuntimeError as error:  # torch.OutOfMemoryError is a RuntimeError; only OOM is retried
            if not comfy_adapter.is_oom(error) or chunk_frames == 1:
                raise
            chunk_frames = max(1, chunk_frames // 2)
            comfy_adapter.soft_empty_cache()
            log.warning("audio features: out of memory, retrying with chunks of %d frames", chunk_frames)
            continue
        log.debug("audio features: frames %d..%d of %d", first, last, num_frames)
        if progress is not None:
            progress.update(last - first)
        first = last
    return out
