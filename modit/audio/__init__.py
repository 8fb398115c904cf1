"""Audio latents A_1..n aligned to video frames (paper §3.2): built-in log-mel and HuBERT / wav2vec2.

Public API other stages code against:
    resample.to_16k_mono(waveform [B, C, S], sample_rate) -> [B, S16]     16 kHz mono, band-limited
    mel.log_mel(waveform_16k [S]) -> [80, M]                              Wav2Lip / SadTalker log-mel, 80 fps
    mel.mel_windows(mel [80, M], num_frames, fps) -> [T, 80, 16]          per-video-frame 0.2 s windows
"""
from .mel import log_mel, mel_windows
from .resample import to_16k_mono

__all__ = ["log_mel", "mel_windows", "to_16k_mono"]
