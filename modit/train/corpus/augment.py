"""Audio augmentation for the speech corpus: speed, room reverb, band-limiting, noise at an SNR, gain.

Every function takes a mono float32 waveform [S] at `sample_rate` and a `numpy.random.Generator`, and returns
a new array; none changes the timing of the speech except `change_speed`, which also returns the factor by
which phoneme times must be scaled.
"""
import math

import numpy as np
from scipy import signal


def change_speed(waveform: np.ndarray, factor: float) -> tuple[np.ndarray, float]:
    """Play `factor` times faster (pitch moves with it, like a tape); returns (waveform, time_scale = 1/factor)."""
    if abs(factor - 1.0) < 1e-3:
        return waveform.copy(), 1.0
    up, down = _ratio(1.0 / factor)
    return signal.resample_poly(waveform, up, down).astype(np.float32), up / down


def _ratio(value: float, limit: int = 200) -> tuple[int, int]:
    from fractions import Fraction

    fraction = Fraction(value).limit_denominator(limit)
    return fraction.numerator, fraction.denominator


def room_impulse_response(sample_rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room: a direct path, a few early reflections and an exponentially decaying noise tail."""
    length = int(sample_rate * min(1.2 * rt60, 1.0))
    t = np.arange(length) / sample_rate
    decay = np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    tail = rng.standard_normal(length) * decay * 0.25
    tail[: int(0.003 * sample_rate)] = 0.0  # the tail starts after the direct sound
    response = tail
    response[0] = 1.0
    for _ in range(rng.integers(2, 6)):
        delay = int(rng.uniform(0.002, 0.03) * sample_rate)
        if delay < length:
            response[delay] += rng.uniform(0.2, 0.6) * rng.choice((-1.0, 1.0))
    return (response / np.sqrt(np.sum(response ** 2))).astype(np.float32)


def reverb(waveform: np.ndarray, sample_rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    wet = signal.fftconvolve(waveform, room_impulse_response(sample_rate, rt60, rng))[: waveform.size]
    return wet.astype(np.float32)


def band_limit(waveform: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """Band-pass (telephone, cheap microphone, low-bitrate codec)."""
    nyquist = sample_rate / 2
    high = min(high_hz, 0.95 * nyquist)
    if low_hz > 0:
        sos = signal.butter(4, [low_hz / nyquist, high / nyquist], btype="bandpass", output="sos")
    else:
        sos = signal.butter(6, high / nyquist, btype="lowpass", output="sos")
    return signal.sosfilt(sos, waveform).astype(np.float32)


def coloured_noise(num_samples: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    frequencies = np.maximum(np.fft.rfftfreq(num_samples), 1.0 / num_samples)
    noise = np.fft.irfft(spectrum / frequencies ** (exponent / 2), n=num_samples)
    return (noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)).astype(np.float32)


def add_noise(waveform: np.ndarray, snr_db: float, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Add coloured noise at `snr_db` relative to the speech power (measured on the non-silent part)."""
    power = waveform ** 2
    active = power > 1e-6
    speech_power = float(power[active].mean()) if active.any() else 1e-6
    noise = coloured_noise(waveform.size, exponent, rng)
    return (waveform + noise * math.sqrt(speech_power / 10 ** (snr_db / 10))).astype(np.float32)


def set_level(waveform: np.ndarray, peak_db: float) -> np.ndarray:
    """Scale so the peak is at `peak_db` dBFS (gain augmentation), never clipping."""
    peak = float(np.abs(waveform).max()) + 1e-9
    return (waveform * (10 ** (peak_db / 20) / peak)).astype(np.float32)


def augment(waveform: np.ndarray, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A random chain (reverb, band-limit, noise, gain); returns (waveform, the settings used)."""
    settings = {}
    out = waveform
    if rng.random() < 0.35:
        settings["rt60"] = float(rng.uniform(0.15, 0.7))
        out = reverb(out, sample_rate, settings["rt60"], rng)
    if rng.random() < 0.3:
        low, high = [(300.0, 3400.0), (0.0, 4000.0), (100.0, 6000.0), (0.0, 5000.0)][rng.integers(4)]
        settings["band"] = (low, high)
        out = band_limit(out, sample_rate, low, high)
    if rng.random() < 0.6:
        settings["snr_db"] = float(rng.choice((30.0, 20.0, 15.0, 10.0, 5.0)))
        settings["noise_exponent"] = float(rng.choice((0.0, 1.0, 2.0)))
        out = add_noise(out, settings["snr_db"], settings["noise_exponent"], rng)
    settings["peak_db"] = float(rng.uniform(-30.0, -1.0))
    out = set_level(out, settings["peak_db"])
    return out, settings
