"""Audio latents A_1..n aligned to video frames (paper §3.2): built-in log-mel and HuBERT / wav2vec2.

Every stage reads audio through one route: samples.Samples (a core AUDIO tensor viewed, or the CLI's decoded file),
read in windows; resampled to 16 kHz per window (features.Waveform16k); log-mel frames per window (mel.log_mel_frames);
then either the DiT's per-frame features (features.FeatureTrack) or Wav2Lip's mel windows (lip_windows.MelWindows).
Nothing audio-sized is held, so an hour costs what a minute does.

Public API other stages code against:
    samples.samples_of(audio) -> Samples                                  read(start, stop) -> [C, n], any length
    resample.to_16k_mono(waveform [B, C, S], sample_rate) -> [B, S16]     16 kHz mono, band-limited
    mel.log_mel(waveform_16k [S]) -> [80, M]                              Wav2Lip / SadTalker log-mel, 80 fps
    mel.mel_windows(mel [80, M], num_frames, fps) -> [T, 80, 16]          per-video-frame 0.2 s windows (one shot)
    lip_windows.MelWindows(audio_features)[a:b] -> [b - a, 80, 16]        the same, built per batch (Wav2Lip node)
    encoder.AudioEncoder.builtin_mel().encode(audio, fps) -> AudioFeatures kind "mel80", [T, 320]
    encoder.AudioEncoder.load("audio_encoders/<name>", dtype).encode(...)  kind "hubert" / "wav2vec2", [T, 768]
    encoder.features_from_encoder_output(output, audio, fps)              core AUDIO_ENCODER_OUTPUT
"""
from .encoder import AudioEncoder, features_from_encoder_output
from .mel import log_mel, mel_windows
from .resample import to_16k_mono

__all__ = ["AudioEncoder", "features_from_encoder_output", "log_mel", "mel_windows", "to_16k_mono"]
