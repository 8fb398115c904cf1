"""Downmix to mono and band-limited resampling in torch (no torchaudio): the 16 kHz input of every audio encoder.

The resampler is the classic polyphase FIR design (the one scipy.signal.resample_poly uses by default), written
out as a strided conv1d so it runs on any torch device:

    y[m] = sum_j x[j] * h(m * down - j * up),     h = up * lowpass(cutoff = 1 / max(up, down))

with up / down = target_rate / source_rate in lowest terms and h a Kaiser-windowed sinc (beta 5, half width
10 * max(up, down) taps on the up-sampled grid). The filter removes everything above the lower Nyquist rate,
so a 48 kHz recording with energy at 12 kHz does not fold back into the 16 kHz speech band.

Rewriting the sum: for output m = q * up + r the taps are h[up * i + p_r] applied to x[q * down + b_r - i],
where c + r * down = up * b_r + p_r and c is the filter's half width. Each phase r is one output channel of a
conv1d with stride `down`; interleaving the channels gives y. When `up` is huge (co-prime rates such as
11 111 Hz -> 16 kHz) the conv weight would be huge too, so the same kernel is then evaluated per output
sample instead (`_resample_direct`); both paths compute the same sum.
"""
import logging
import math
from functools import lru_cache

import torch

log = logging.getLogger(__name__)

TARGET_RATE = 16000  # HuBERT, wav2vec2 and the Wav2Lip / SadTalker mel front end all expect 16 kHz
KAISER_BETA = 5.0  # scipy.signal.resample_poly's default window ('kaiser', 5.0)
HALF_WIDTH_ZEROS = 10  # filter half width in units of the slower rate's samples (scipy's half_len = 10 * max_rate)
_MAX_POLYPHASE_WEIGHTS = 4_000_000  # conv weight entries above which the direct path is cheaper on memory
_CHUNK_OUTPUT = 1 << 20  # output samples per block; bounds the temporaries for long audio


def downmix(waveform: torch.Tensor) -> torch.Tensor:
    """Average the channels of a core AUDIO waveform.

    waveform: [B, C, S] (or [C, S]) float in -1..1 -> [B, S] (or [S]) float, same device and dtype.
    """
    if waveform.ndim not in (2, 3):
        raise ValueError(f"audio waveform: expected [B, C, S] (or [C, S]), got shape {tuple(waveform.shape)}")
    return waveform.mean(dim=-2)


def rate_ratio(source_rate: int, target_rate: int = TARGET_RATE) -> tuple[int, int]:
    """(up, down): target_rate / source_rate in lowest terms."""
    source_rate, target_rate = int(source_rate), int(target_rate)
    if source_rate <= 0 or target_rate <= 0:
        raise ValueError(f"sample rate must be a positive integer, got {source_rate} -> {target_rate}")
    g = math.gcd(source_rate, target_rate)
    return target_rate // g, source_rate // g


def output_length(num_samples: int, source_rate: int, target_rate: int = TARGET_RATE) -> int:
    """Samples after resampling: ceil(num_samples * target_rate / source_rate) (as resample_poly)."""
    up, down = rate_ratio(source_rate, target_rate)
    return -(-num_samples * up // down)


def _kernel(offset: torch.Tensor, up: int, down: int) -> torch.Tensor:
    """Unnormalised filter h at `offset` taps from its centre on the up-sampled grid (float64)."""
    max_rate = max(up, down)
    half = HALF_WIDTH_ZEROS * max_rate
    cutoff = 1.0 / max_rate  # fraction of the up-sampled Nyquist rate
    ratio = (offset / half).clamp(-1.0, 1.0)
    window = torch.special.i0(KAISER_BETA * torch.sqrt(1.0 - ratio * ratio)) / torch.special.i0(
        torch.tensor(KAISER_BETA, dtype=torch.float64))
    value = cutoff * torch.sinc(cutoff * offset) * window
    return torch.where(offset.abs() <= half, value, torch.zeros_like(value))


@lru_cache(maxsize=16)
def _gain(up: int, down: int) -> float:
    """up / sum(h): unit DC gain per phase on average, as scipy's firwin(scale=True) * up."""
    half = HALF_WIDTH_ZEROS * max(up, down)
    taps = _kernel(torch.arange(-half, half + 1, dtype=torch.float64), up, down)
    return up / float(taps.sum())


@lru_cache(maxsize=8)
def _polyphase_weight(up: int, down: int) -> tuple[torch.Tensor, int]:
    """conv1d weight [up, 1, W] (float64, CPU) and the left zero-padding P of the input."""
    half = HALF_WIDTH_ZEROS * max(up, down)
    r = torch.arange(up, dtype=torch.int64)
    b = (half + r * down) // up  # [up] input index of tap i = 0 for phase r, relative to q * down
    p = (half + r * down) % up  # [up] first filter index of phase r
    last_tap = (2 * half - p) // up  # [up] largest i with up * i + p <= 2 * half
    pad = int((last_tap - b).max().clamp(min=0))
    width = int(b.max()) + pad + 1
    k = torch.arange(width, dtype=torch.int64)
    i = b[:, None] + pad - k[None, :]  # [up, W] tap index i for conv position k
    index = up * i + p[:, None]  # [up, W] index into the 2 * half + 1 filter taps
    valid = (i >= 0) & (index <= 2 * half)
    weight = _kernel((index - half).double(), up, down) * _gain(up, down)
    weight = torch.where(valid, weight, torch.zeros_like(weight))
    return weight.unsqueeze(1).contiguous(), pad  # conv1d correlates: weight[r, k] multiplies xpad[q * down + k]


def _slice_padded(x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """x[..., start:stop] with zeros wherever the range leaves [0, S)."""
    S = x.shape[-1]
    inner = x[..., min(max(start, 0), S):min(max(stop, 0), S)]
    left = min(max(-start, 0), stop - start)
    right = (stop - start) - left - inner.shape[-1]
    if left or right:
        inner = torch.nn.functional.pad(inner, (left, right))
    return inner


def _resample_polyphase(x: torch.Tensor, up: int, down: int, start: int, stop: int) -> torch.Tensor:
    """Output samples [start, stop) of x [R, S] via the polyphase conv1d; start must be a multiple of up."""
    weight, pad = _polyphase_weight(up, down)
    weight = weight.to(device=x.device, dtype=x.dtype)
    width = weight.shape[-1]
    q0, q1 = start // up, -(-stop // up)
    # Input span for blocks q0..q1-1: conv position k of block q reads xpad[q * down + k] = x[q * down + k - pad].
    segment = _slice_padded(x, q0 * down - pad, (q1 - 1) * down + width - pad)  # [R, L]
    y = torch.nn.functional.conv1d(segment.unsqueeze(1), weight, stride=down)  # [R, up, q1 - q0]
    y = y.transpose(1, 2).reshape(x.shape[0], -1)  # [R, (q1 - q0) * up], phases interleaved
    return y[:, start - q0 * up:stop - q0 * up]


def _resample_direct(x: torch.Tensor, up: int, down: int, start: int, stop: int) -> torch.Tensor:
    """Output samples [start, stop) evaluating the kernel per output (large `up`); same sum as the conv."""
    half = HALF_WIDTH_ZEROS * max(up, down)
    # Kernel values are computed in float64 on the CPU (MPS has no float64), then moved.
    m = torch.arange(start, stop, dtype=torch.int64)
    first = -((half - m * down) // up)  # smallest j with m * down - j * up <= half
    taps = 2 * half // up + 2
    j = first[:, None] + torch.arange(taps)[None, :]  # [M, taps]
    offset = (m[:, None] * down - j * up).double()  # [M, taps] filter offset from centre
    weight = (_kernel(offset, up, down) * _gain(up, down)).to(device=x.device, dtype=x.dtype)
    lo = int(j.min())
    segment = _slice_padded(x, lo, int(j.max()) + 1)  # [R, L]
    return (segment[:, (j - lo).to(x.device)] * weight).sum(-1)  # [R, M]


def resample(x: torch.Tensor, source_rate: int, target_rate: int = TARGET_RATE,
             start: int = 0, stop: int | None = None) -> torch.Tensor:
    """Band-limited resampling along the last axis, on x's device and in x's dtype.

    x: [..., S] float. Returns output samples [start, stop) of the resampled signal (default: all
    output_length(S) of them), so long audio can be resampled in pieces that join exactly. The signal is
    taken as zero outside [0, S), as resample_poly's default padtype 'constant'.
    """
    if not x.is_floating_point():
        raise ValueError(f"resample: expected a float waveform, got {x.dtype}")
    up, down = rate_ratio(source_rate, target_rate)
    total = output_length(x.shape[-1], source_rate, target_rate)
    stop = total if stop is None else stop
    if not 0 <= start <= stop:
        raise ValueError(f"resample: bad output range [{start}, {stop})")
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])  # [R, S]
    if up == down:
        out = _slice_padded(flat, start, stop)
        return out.reshape(*lead, stop - start)
    half = HALF_WIDTH_ZEROS * max(up, down)
    polyphase = up * (2 * half // up + down + 2) <= _MAX_POLYPHASE_WEIGHTS
    pieces = []
    step = max(_CHUNK_OUTPUT // up, 1) * up if polyphase else max(_CHUNK_OUTPUT // (2 * half // up + 2), 1)
    block_start = (start // up) * up if polyphase else start
    for s in range(block_start, stop, step):
        e = min(s + step, stop)
        if polyphase:
            block = _resample_polyphase(flat, up, down, s, e)
        else:
            block = _resample_direct(flat, up, down, s, e)
        pieces.append(block[:, max(start - s, 0):])
    out = torch.cat(pieces, dim=-1) if pieces else flat.new_zeros(flat.shape[0], 0)
    return out.reshape(*lead, stop - start)


def to_16k_mono(waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Core AUDIO waveform [B, C, S] at any rate -> [B, S16] mono float at 16 kHz (same device)."""
    return resample(downmix(waveform.float()), sample_rate, TARGET_RATE)


def resample_range(source, rate: int, target_rate: int, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """Output samples [start, stop) of `source` resampled from `rate` to `target_rate`, reading only the source
    samples they depend on: so a long recording is resampled window by window, and windows join exactly.

    source: anything sliced like a tensor along its last axis ([S] or [C, S] tensor, or a samples.Samples).
    """
    if rate == target_rate:
        return source[start:stop].to(device)
    up, down = rate_ratio(rate, target_rate)
    # Output m depends on source samples within 10 * max(up, down) / up of m * down / up (the filter's half
    # width); one extra sample covers rounding.
    reach = -(-HALF_WIDTH_ZEROS * max(up, down) // up) + 1
    lo = max(0, start * down // up - reach)
    hi = min(source.shape[-1], -(-stop * down // up) + reach)
    lo = (lo // down) * down  # start the piece on a sample shared by both grids: output offset = lo * up / down
    offset = lo // down * up
    piece = source[lo:hi] if not torch.is_tensor(source) or source.ndim == 1 else source[..., lo:hi]
    return resample(piece.to(device), rate, target_rate, start=start - offset, stop=stop - offset)
