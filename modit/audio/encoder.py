"""The audio encoder handle (paper §3.2 audio latents): one class for built-in mel, Whisper + mel, HuBERT, wav2vec2.

    encoder = AudioEncoder.builtin_mel()                      # kind "mel80", D 320, no weights
    encoder = AudioEncoder.load("built-in whisper base + mel")  # kind "mel80+whisper4", D 832, bundled weights
    encoder = AudioEncoder.load("audio_encoders/hubert-base-ls960", "auto")   # kind "hubert", D 768
    features = encoder.encode(audio, fps=25.0)                # AudioFeatures, T = ceil(S * fps / sr)

`features_from_encoder_output` turns core ComfyUI's AUDIO_ENCODER_OUTPUT (wav2vec2 / whisper at 50 Hz) into
the same AudioFeatures. Every path: mono, 16 kHz without torchaudio, chunked with Progress per chunk, rows
aligned to frames by alignment.py, waveform padded to exactly samples_for_frames(T) at the source rate.
"""
import logging
import os

import torch

from .. import comfy_adapter
from ..checkpoints import bundled_path
from ..types import AudioFeatures
from . import hubert, whisper
from .alignment import AlignedAudio, align_audio, encode_frames
from .features import (CHUNK_SECONDS, MEL80, MEL80_DIM, MEL80_SUB_STEPS, FeatureTrack, MelCurve, StackedTrack,
                       Waveform16k, sub_step_points, to_16k)

log = logging.getLogger(__name__)

BUILTIN_MEL = "built-in mel"
BUILTIN_WHISPER = "built-in whisper base + mel"
WHISPER_MEL = "mel80+whisper4"  # [mel80 (320) | Whisper base after block 4 (512)] per frame
UTTERANCE_NORM_COLUMNS = {WHISPER_MEL: MEL80_DIM}  # a DiT's per-utterance centring: the mel80 part only
SEARCH_FOLDERS = (comfy_adapter.AUDIO_ENCODER_FOLDER, comfy_adapter.MODEL_FOLDER)  # audio_encoders, modit
ENCODER_OUTPUT_RATE = 50.0  # core's wav2vec2 and whisper encoders: one vector per 20 ms
WHISPER_DIM = 1280  # whisper-large-v3, the only whisper core loads
WHISPER_T0 = 0.01  # whisper vector n covers [20 n, 20 n + 20) ms of its 100 Hz mel input: centre 10 ms


def encoder_choices() -> list[str]:
    """Combo entries: "built-in mel", then "<folder>/<name>" for every HuBERT / wav2vec2 folder or file found."""
    choices = []
    for folder in SEARCH_FOLDERS:
        model_dirs = set()
        for root in comfy_adapter.folder_paths_for(folder):
            if not os.path.isdir(root):
                continue
            for entry in sorted(os.listdir(root)):
                if hubert.is_transformers_folder(os.path.join(root, entry)):
                    model_dirs.add(entry)
        choices += [f"{folder}/{d}" for d in sorted(model_dirs)]
        for name in comfy_adapter.list_models(folder):
            if name.split("/")[0] in model_dirs:
                continue  # the weights inside a listed folder
            try:
                path = comfy_adapter.model_path(folder, name)
            except FileNotFoundError:
                continue
            if hubert.looks_like_encoder_file(path):
                choices.append(f"{folder}/{name}")
    return [BUILTIN_MEL, BUILTIN_WHISPER] + sorted(set(choices))


class AudioEncoder:
    """A loaded audio feature extractor: `kind`, `dim` (D) and `encode(audio, fps) -> AudioFeatures`."""

    def __init__(self, kind: str, dim: int, name: str = BUILTIN_MEL, model: torch.nn.Module | None = None,
                 normalise_input: bool = True, dtype: torch.dtype = torch.float32):
        self.kind = kind
        self.dim = dim
        self.name = name
        self.dtype = dtype
        self.normalise_input = normalise_input
        self.patcher = comfy_adapter.make_patcher(model) if model is not None else None

    def __repr__(self) -> str:
        return f"AudioEncoder({self.name!r}, kind={self.kind!r}, dim={self.dim})"

    @classmethod
    def builtin_mel(cls) -> "AudioEncoder":
        return cls(MEL80, MEL80_DIM)

    @classmethod
    def builtin_whisper(cls, dtype: str = "auto") -> "AudioEncoder":
        """mel80 beside Whisper base's block-4 output: models/modit/<whisper.WEIGHTS_FILE> if present, else bundled."""
        try:
            path = comfy_adapter.model_path(comfy_adapter.MODEL_FOLDER, whisper.WEIGHTS_FILE)
        except FileNotFoundError:
            path = bundled_path(whisper.WEIGHTS_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{BUILTIN_WHISPER!r}: {whisper.WEIGHTS_FILE} is in neither models/modit nor "
                                    f"the pack's modit/weights; reinstall the pack or choose {BUILTIN_MEL!r}")
        torch_dtype = comfy_adapter.resolve_dtype(dtype, comfy_adapter.compute_device())
        model = whisper.load_whisper_encoder(path).to(torch_dtype)
        return cls(WHISPER_MEL, MEL80_DIM + model.dim, name=BUILTIN_WHISPER, model=model, dtype=torch_dtype)

    @classmethod
    def load(cls, choice: str, dtype: str = "auto") -> "AudioEncoder":
        """Load an entry of `encoder_choices()` ("built-in mel", "built-in whisper base + mel" or "<folder>/<name>")."""
        if choice == BUILTIN_MEL:
            return cls.builtin_mel()
        if choice == BUILTIN_WHISPER:
            return cls.builtin_whisper(dtype)
        folder, _, name = choice.partition("/")
        if folder not in SEARCH_FOLDERS or not name:
            raise ValueError(f"audio encoder {choice!r}: expected {BUILTIN_MEL!r} or '<folder>/<name>' with folder "
                             f"one of {SEARCH_FOLDERS}; refresh the node to see the models found")
        path = comfy_adapter.model_path(folder, name)
        torch_dtype = comfy_adapter.resolve_dtype(dtype, comfy_adapter.compute_device())
        model, kind, normalise = hubert.load_encoder_model(path)
        model = model.to(torch_dtype)
        return cls(kind, int(model.config.hidden_size), name=choice, model=model, normalise_input=normalise,
                   dtype=torch_dtype)

    def encode(self, audio: dict | None, fps: float, chunk_seconds: float | None = None) -> AudioFeatures:
        """Features [T, D] at `fps` plus the aligned audio (source rate, mono), T = ceil(S * fps / sr).

        Runs on the compute device in chunks of `chunk_seconds` of video with Progress and Cancel per chunk.
        """
        aligned = align_audio(audio, fps)
        T = aligned.num_frames
        if self.kind == WHISPER_MEL:
            return self._encode_whisper_mel(aligned, fps, chunk_seconds)
        if self.patcher is None:
            # the one audio route: 16 kHz resampled per window as the mel frames need it, mel80 rows computed per
            # window as the sampler asks for them; here only the statistics pass runs (one float per frame kept)
            track = _mel_track(aligned, fps, chunk_seconds)
            track.compute_stats(comfy_adapter.Progress(T))
            return _lazy_features(track, aligned, self.kind)
        progress = comfy_adapter.Progress(2 * T)  # first half: resampling, second half: features
        comfy_adapter.load_models([self.patcher])
        device = self.patcher.load_device
        waveform_16k = to_16k(aligned, device, progress, units=T)
        chunk = chunk_seconds or hubert.CHUNK_SECONDS
        curve = hubert.EncoderCurve(self.patcher.model, waveform_16k, self.normalise_input, self.dtype,
                                    chunk_seconds=chunk)
        points = sub_step_points(curve.rate, fps, 1)
        features = encode_frames(curve, T, fps, 1, points, max(1, int(chunk * fps)), progress)
        return _features(features, aligned, self.kind)

    def _encode_whisper_mel(self, aligned: AlignedAudio, fps: float, chunk_seconds: float | None) -> AudioFeatures:
        """A lazy [T, 832] track: mel80 rows as the built-in mel, Whisper rows encoded 30 s window by window when the
        sampler reads them (two windows cached; the encoder is loaded onto its device then), so an hour costs what a
        minute does. Only the mel80 statistics pass runs here."""
        T = aligned.num_frames
        curve = whisper.WhisperCurve(self.patcher.model, Waveform16k(aligned, self.patcher.load_device),
                                     before_encode=lambda: comfy_adapter.load_models([self.patcher]))
        window_frames = max(1, int(whisper.WINDOW_SAMPLES / whisper.SAMPLE_RATE * fps))
        speech = FeatureTrack(curve, T, fps, 1, sub_step_points(curve.rate, fps, 1), window_frames)
        track = StackedTrack(_mel_track(aligned, fps, chunk_seconds), speech)
        track.compute_stats(comfy_adapter.Progress(T))
        return _lazy_features(track, aligned, self.kind)


def _mel_track(aligned: AlignedAudio, fps: float, chunk_seconds: float | None) -> FeatureTrack:
    """The built-in mel80 rows of the aligned audio as a lazy track (16 kHz resampled per window, on the compute
    device), statistics not yet computed."""
    curve = MelCurve(Waveform16k(aligned, comfy_adapter.compute_device()))
    chunk = max(1, int((chunk_seconds or CHUNK_SECONDS) * fps))
    return FeatureTrack(curve, aligned.num_frames, fps, MEL80_SUB_STEPS,
                        sub_step_points(curve.rate, fps, MEL80_SUB_STEPS), chunk)


def _lazy_features(track, aligned: AlignedAudio, kind: str) -> AudioFeatures:
    return AudioFeatures(features=track, fps=aligned.fps, kind=kind, waveform=aligned.samples,
                         sample_rate=aligned.sample_rate)


def _features(features: torch.Tensor, aligned: AlignedAudio, kind: str) -> AudioFeatures:
    return AudioFeatures(features=features.to(comfy_adapter.intermediate_device(), torch.float32),
                         fps=aligned.fps, kind=kind, waveform=aligned.samples, sample_rate=aligned.sample_rate)


class TensorCurve:
    """Precomputed vectors [N, D] at a fixed rate as a Curve (alignment.py)."""

    def __init__(self, vectors: torch.Tensor, rate: float, t0: float):
        self.data = vectors
        self.rate, self.t0 = rate, t0
        self.length, self.dim = vectors.shape

    def vectors(self, start: int, stop: int) -> torch.Tensor:
        return self.data[start:stop].float()


def features_from_encoder_output(output: dict, audio: dict | None, fps: float) -> AudioFeatures:
    """Core AUDIO_ENCODER_OUTPUT {"encoded_audio": [B, N, D] at 50 Hz, ...} -> AudioFeatures at `fps`.

    Kind "wav2vec2" (D 768 base / 1024 large) or "whisper" (D 1280). `audio` must be the recording that was
    encoded: it fixes T and supplies the aligned waveform.
    """
    if not isinstance(output, dict) or not torch.is_tensor(output.get("encoded_audio")):
        raise ValueError("audio_encoder_output: expected core's AUDIO_ENCODER_OUTPUT dict with 'encoded_audio' "
                         f"[B, N, D]; got {type(output).__name__}; connect an AudioEncoderEncode node")
    encoded = output["encoded_audio"]
    if encoded.ndim != 3 or encoded.shape[1] == 0:
        raise ValueError(f"audio_encoder_output: 'encoded_audio' must be [B, N, D] with N > 0, "
                         f"got {tuple(encoded.shape)}")
    aligned = align_audio(audio, fps)
    kind = "whisper" if encoded.shape[2] == WHISPER_DIM else "wav2vec2"
    seconds = aligned.num_frames / fps
    covered = encoded.shape[1] / ENCODER_OUTPUT_RATE
    if kind == "wav2vec2" and abs(covered - seconds) > 1.0:
        raise ValueError(f"audio_encoder_output: it covers {covered:.2f} s but the audio lasts {seconds:.2f} s; "
                         f"connect the same AUDIO to AudioEncoderEncode and to MoDiT Encode Audio")
    if kind == "whisper" and covered + 1.0 < seconds:
        raise ValueError(f"audio_encoder_output: whisper features cover {covered:.2f} s, the audio {seconds:.2f} s; "
                         f"connect the same AUDIO to AudioEncoderEncode and to MoDiT Encode Audio")
    curve = TensorCurve(encoded[0], ENCODER_OUTPUT_RATE, hubert.T0 if kind == "wav2vec2" else WHISPER_T0)
    progress = comfy_adapter.Progress(aligned.num_frames)
    features = encode_frames(curve, aligned.num_frames, fps, 1, sub_step_points(curve.rate, fps, 1),
                             max(1, int(CHUNK_SECONDS * fps)), progress)
    return _features(features, aligned, kind)
