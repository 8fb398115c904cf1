"""The log-mel front end Wav2Lip and SadTalker were trained with, in torch on the input's device.

Recipe (both projects share one hparams set; reference doc §2.1):

    16 kHz mono -> pre-emphasis y[n] = x[n] - 0.97 x[n-1]
    -> |STFT|, n_fft 800, Hann window 800, hop 200 (80 mel frames per second), centred (pad 400 each side)
    -> 80 Slaney-scale, Slaney-normalised mel bands 55..7600 Hz (librosa.filters.mel defaults, htk=False)
    -> dB: 20 log10(max(1e-5, M)) - ref_level_db (20)
    -> symmetric normalisation: clip(8 (dB - min_level_db) / -min_level_db - 4, -4, 4), min_level_db = -100

Mel frame f is centred on sample 200 f, i.e. time f / 80 s. `pad_mode` picks the STFT edge padding: "reflect"
is librosa < 0.9 (Wav2Lip's pin), "constant" is librosa >= 0.9 (SadTalker's pin); it changes the first and last
five frames only.

`mel_windows` cuts the per-video-frame 16-mel-frame windows (0.2 s) both networks take as input.
"""
import logging
import math
from fractions import Fraction
from functools import lru_cache

import torch

from ..timing import exact_fps

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
N_FFT = 800
HOP = 200
WIN = 800
N_MELS = 80
FMIN = 55.0
FMAX = 7600.0
PREEMPHASIS = 0.97
REF_LEVEL_DB = 20.0
MIN_LEVEL_DB = -100.0
MAX_ABS_VALUE = 4.0  # symmetric output range [-4, 4]
AMP_FLOOR = 1e-5  # -100 dB: the silence level
MEL_FPS = SAMPLE_RATE / HOP  # 80 mel frames per second
WINDOW_FRAMES = 16  # mel frames per video-frame window (0.2 s)
SILENCE = -MAX_ABS_VALUE  # normalised value of digital silence
PAD_MODES = ("reflect", "constant")

# ----------------------------------------------------------------------------------- Slaney mel scale


def _hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """Slaney's Auditory Toolbox scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic above."""
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    linear = hz / f_sp
    return torch.where(hz >= min_log_hz, min_log_mel + torch.log(hz.clamp(min=1e-10) / min_log_hz) / logstep, linear)


def _mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return torch.where(mel >= min_log_mel, min_log_hz * torch.exp(logstep * (mel - min_log_mel)), f_sp * mel)


@lru_cache(maxsize=4)
def _mel_basis_cpu() -> torch.Tensor:
    """[80, 401] float64 triangular filters, each scaled to unit area (Slaney norm), as librosa.filters.mel."""
    fft_hz = torch.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1, dtype=torch.float64)  # [401]
    mel_points = torch.linspace(float(_hz_to_mel(torch.tensor(FMIN, dtype=torch.float64))),
                                float(_hz_to_mel(torch.tensor(FMAX, dtype=torch.float64))),
                                N_MELS + 2, dtype=torch.float64)
    band_hz = _mel_to_hz(mel_points)  # [82] band edges and centres
    widths = band_hz[1:] - band_hz[:-1]  # [81]
    offsets = band_hz[:, None] - fft_hz[None, :]  # [82, 401]
    rising = -offsets[:-2] / widths[:-1, None]  # [80, 401]
    falling = offsets[2:] / widths[1:, None]  # [80, 401]
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    return weights * (2.0 / (band_hz[2:] - band_hz[:-2]))[:, None]


def mel_basis(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The [80, 401] mel filter bank (librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600))."""
    return _mel_basis_cpu().to(device=device, dtype=dtype)

# ------------------------------------------------------------------------------------------ log-mel


def num_mel_frames(num_samples: int) -> int:
    """Mel frames M for num_samples of 16 kHz audio (centred STFT): 1 + S // 200."""
    return 1 + num_samples // HOP


def _normalise(magnitude_mel: torch.Tensor) -> torch.Tensor:
    db = 20.0 * torch.log10(magnitude_mel.clamp(min=AMP_FLOOR)) - REF_LEVEL_DB
    scaled = 2 * MAX_ABS_VALUE * (db - MIN_LEVEL_DB) / -MIN_LEVEL_DB - MAX_ABS_VALUE
    return scaled.clamp(-MAX_ABS_VALUE, MAX_ABS_VALUE)


def _emphasised_span(x: torch.Tensor, start: int, stop: int, pad_mode: str) -> torch.Tensor:
    """Samples [start, stop) of the pre-emphasised signal after the STFT's centre padding.

    librosa's order is kept: pre-emphasis runs on the whole unpadded signal (y[0] = x[0]), then the STFT pads
    y by 400 at each end, so the padding reflects emphasised samples. `start` may be < 0 and `stop` > S.
    """
    S = x.shape[-1]
    left, right = max(0, -start), max(0, stop - S)
    lo, hi = max(start, 0), min(stop, S)
    if pad_mode == "reflect" and S <= max(left, right):
        log.debug("log_mel: %d samples are too short to reflect-pad by %d; zero-padding", S, max(left, right))
        pad_mode = "constant"
    need_lo, need_hi = lo, hi  # the part of y to compute: the span plus the samples its reflection copies
    if pad_mode == "reflect":
        if left:
            need_hi = max(need_hi, left + 1)
        if right:
            need_lo = min(need_lo, S - 1 - right)
    source = x[max(need_lo - 1, 0):need_hi]
    y = source[1:] - PREEMPHASIS * source[:-1]  # y[n] = x[n] - 0.97 x[n-1]
    if need_lo == 0:
        y = torch.cat([source[:1], y])  # y[0] = x[0] (lfilter with zero initial state)
    inner = y[lo - need_lo:hi - need_lo]
    if pad_mode == "constant":
        return torch.nn.functional.pad(inner, (left, right)) if (left or right) else inner
    pieces = [y[1 - need_lo:left + 1 - need_lo].flip(-1)] if left else []  # reflect excludes the edge sample
    pieces.append(inner)
    if right:
        pieces.append(y[S - 1 - right - need_lo:S - 1 - need_lo].flip(-1))
    return torch.cat(pieces)


def log_mel_frames(waveform_16k: torch.Tensor, start: int, stop: int, pad_mode: str = "reflect") -> torch.Tensor:
    """Mel frames [start, stop) of log_mel(waveform_16k): [80, stop - start], computed from their samples only.

    Frame f reads samples [200 f - 400, 200 f + 400), so a long recording can be turned into mels chunk by
    chunk, and the chunks join to the one-shot result.
    """
    if pad_mode not in PAD_MODES:
        raise ValueError(f"log_mel: pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
    x = waveform_16k if waveform_16k.dtype == torch.float64 else waveform_16k.float()
    if stop <= start:
        return x.new_zeros(N_MELS, 0)
    span = _emphasised_span(x, start * HOP - N_FFT // 2, (stop - 1) * HOP + N_FFT // 2, pad_mode)  # [L]
    frames = span.unfold(0, N_FFT, HOP)  # [stop - start, 800]
    window = torch.hann_window(WIN, periodic=True, dtype=x.dtype, device=x.device)
    magnitude = torch.fft.rfft(frames * window, n=N_FFT).abs().transpose(0, 1)  # [401, M]
    mel = mel_basis(x.device, x.dtype) @ magnitude  # [80, M]
    return _normalise(mel)


def log_mel(waveform_16k: torch.Tensor, pad_mode: str = "reflect") -> torch.Tensor:
    """The Wav2Lip / SadTalker normalised log-mel spectrogram of a 16 kHz mono waveform.

    waveform_16k: [S] float in -1..1 on any device. Returns [80, M] in waveform's dtype (float32 for
    half inputs) and device, values in [-4, 4] (-4 = silence), M = 1 + S // 200 frames at 80 per second.
    """
    if waveform_16k.ndim != 1:
        raise ValueError(f"log_mel: expected a mono 16 kHz waveform [S], got shape {tuple(waveform_16k.shape)}; "
                         f"downmix and resample with modit.audio.resample.to_16k_mono first")
    if waveform_16k.shape[0] == 0:
        raise ValueError("log_mel: the waveform is empty (0 samples)")
    return log_mel_frames(waveform_16k, 0, num_mel_frames(waveform_16k.shape[0]), pad_mode)

# ---------------------------------------------------------------------------- per-video-frame windows


WINDOW_RULES = {
    # name: window start relative to the frame's start time, in seconds
    "wav2lip": Fraction(0),  # Wav2Lip inference: start = floor(80 i / fps)
    "sadtalker": Fraction(-2, 25),  # SadTalker get_data: start = floor(3.2 (i - 2)) at 25 fps, 0.08 s earlier
}
EDGE_MODES = ("clamp", "shift")


def window_starts(num_frames: int, fps: float, rule: str = "wav2lip", first: int = 0) -> torch.Tensor:
    """[T] int64 first mel frame of the windows of frames first .. first + T - 1: floor(80 (i / fps + offset)).

    Exact rational arithmetic, so 25 fps gives Wav2Lip's int(3.2 i) without float drift.
    """
    if rule not in WINDOW_RULES:
        raise ValueError(f"mel_windows: rule must be one of {sorted(WINDOW_RULES)}, got {rule!r}")
    rate = exact_fps(fps)
    offset = WINDOW_RULES[rule]
    mel_rate = Fraction(SAMPLE_RATE, HOP)
    return torch.tensor([math.floor(mel_rate * (Fraction(i) / rate + offset)) for i in range(first, first + num_frames)],
                        dtype=torch.int64)


def gather_windows(mel: torch.Tensor, starts: torch.Tensor, offset: int, total: int, edge: str) -> torch.Tensor:
    """Windows [n, 80, 16] from mel frames offset .. offset + mel.shape[1] - 1 of a log-mel with `total` frames."""
    starts = starts.to(mel.device)
    if edge == "shift":
        starts = torch.minimum(starts, torch.tensor(total - WINDOW_FRAMES, device=mel.device))
    index = (starts[:, None] + torch.arange(WINDOW_FRAMES, device=mel.device)[None, :]).clamp(0, total - 1)  # [n, 16]
    return mel[:, index - offset].permute(1, 0, 2).contiguous()  # [80, n, 16] -> [n, 80, 16]


def mel_windows(mel: torch.Tensor, num_frames: int, fps: float, rule: str = "wav2lip",
                edge: str = "clamp") -> torch.Tensor:
    """Per-video-frame mel windows: [80, M] -> [T, 80, 16] (same dtype and device as mel).

    Frame i's window holds mel frames start_i .. start_i + 15 (0.2 s), start_i from `window_starts`:
    rule "wav2lip" starts at the frame's own time (Wav2Lip inference, generalised from 80 / 25 = 3.2 to
    80 / fps), "sadtalker" 0.08 s earlier (SadTalker's floor(3.2 (i - 2))).

    Edges: with edge "clamp" (default, SadTalker's rule) indices outside [0, M-1] repeat the first / last
    mel frame, so every window stays aligned with its frame's time. With edge "shift" a window that runs past
    the end is moved back to the last 16 frames, as Wav2Lip's inference loop does (the last ~0.2 s of
    video then share one window); before the start it still clamps.
    """
    if mel.ndim != 2 or mel.shape[0] != N_MELS:
        raise ValueError(f"mel_windows: expected a log-mel [80, M], got shape {tuple(mel.shape)}")
    if edge not in EDGE_MODES:
        raise ValueError(f"mel_windows: edge must be one of {EDGE_MODES}, got {edge!r}")
    if num_frames <= 0:
        return mel.new_zeros(0, N_MELS, WINDOW_FRAMES)
    return gather_windows(mel, window_starts(num_frames, fps, rule), 0, mel.shape[1], edge)
