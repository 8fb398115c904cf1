"""Lip sync measured the SyncNet way, without a network: correlate the mouth opening seen in the frames with the
speech envelope over a range of lags; the best lag is the offset, its margin over the typical lag the confidence.

Sign convention: offset > 0 means the mouth moves `offset` frames AFTER the audio (video lags audio).
"""
from dataclasses import dataclass

import numpy as np

from ..audio.loudness import frame_mean_square

# MediaPipe 468-mesh indices: inner-lip centre (upper, lower) and a face height reference (forehead top, chin).
UPPER_INNER_LIP, LOWER_INNER_LIP = 13, 14
FOREHEAD_TOP, CHIN = 10, 152


@dataclass
class SyncResult:
    offset: int  # frames; > 0: video lags audio
    confidence: float  # peak correlation minus the median over all tested lags (0 = no evidence)
    correlation: float  # Pearson r at the best lag
    lags: np.ndarray  # [L] tested lags
    correlations: np.ndarray  # [L] Pearson r per lag


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap over face height per frame. landmarks: [T, 468, 2 or 3] -> [T] (0 = closed)."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    gap = np.linalg.norm(landmarks[:, LOWER_INNER_LIP, :2] - landmarks[:, UPPER_INNER_LIP, :2], axis=-1)
    height = np.linalg.norm(landmarks[:, CHIN, :2] - landmarks[:, FOREHEAD_TOP, :2], axis=-1)
    return gap / np.maximum(height, 1e-6)


def speech_envelope(waveform: np.ndarray, sample_rate: int, num_frames: int, fps: float) -> np.ndarray:
    """Loudness per video frame: RMS of each frame's samples in dB above the clip's noise floor. [S] -> [T]."""
    rms = np.sqrt(frame_mean_square(waveform, sample_rate, fps, num_frames))
    db = 20 * np.log10(rms + 1e-5)
    floor = np.percentile(db, 10)
    return np.clip(db - floor, 0.0, None)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 1e-12 else 0.0


def sync_offset(mouth: np.ndarray, envelope: np.ndarray, max_lag: int = 15) -> SyncResult:
    """Best lag between mouth opening [T] and speech envelope [T] within +-max_lag frames."""
    mouth, envelope = np.asarray(mouth, np.float64), np.asarray(envelope, np.float64)
    if mouth.shape != envelope.shape or mouth.ndim != 1:
        raise ValueError(f"mouth and envelope must be equal-length 1-D curves, got {mouth.shape} and {envelope.shape}")
    T = mouth.shape[0]
    max_lag = min(max_lag, max(T // 3, 0))
    if T < 8:
        raise ValueError(f"lip sync needs at least 8 frames, got {T}")
    lags = np.arange(-max_lag, max_lag + 1)
    # mouth[t] ~ envelope[t - lag]: compare the overlapping parts only.
    correlations = np.array([_pearson(mouth[max(lag, 0):T + min(lag, 0)], envelope[max(-lag, 0):T - max(lag, 0)])
                             for lag in lags])
    best = int(np.argmax(correlations))
    return SyncResult(offset=int(lags[best]), confidence=float(correlations[best] - np.median(correlations)),
                      correlation=float(correlations[best]), lags=lags, correlations=correlations)
