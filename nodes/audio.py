"""Audio encoding (paper §3.2 audio latents): MoDiT Load Audio Encoder, MoDiT Encode Audio.

MODIT_AUDIO_ENCODER carries a modit.audio.encoder.AudioEncoder handle (kind, dim, encode).
MODIT_AUDIO_FEATURES carries a modit.types.AudioFeatures: features [T, D] aligned to frames, fps, kind, and
the mono audio padded to exactly T frames; both are read window by window (the built-in mel's rows are computed
as the sampler asks for them), so a long recording is never held whole.
"""
from ..modit import comfy_adapter
from ..modit.audio.encoder import BUILTIN_MEL, AudioEncoder, encoder_choices, features_from_encoder_output
from ..modit.types import MODIT_AUDIO_ENCODER, MODIT_AUDIO_FEATURES

FPS_MIN, FPS_MAX = 10.0, 60.0


class MoDiTLoadAudioEncoder:
    DESCRIPTION = ("Chooses the speech features the DiT is driven by: the built-in log-mel (no weights, what "
                   "Wav2Lip and SadTalker use) or a HuBERT / wav2vec2 model from models/audio_encoders or models/modit "
                   "(a save_pretrained folder or one .safetensors file), as in the MoDiT paper.")
    CATEGORY = "MoDiT/audio"
    FUNCTION = "load"
    RETURN_TYPES = (MODIT_AUDIO_ENCODER,)
    RETURN_NAMES = ("audio_encoder",)
    OUTPUT_TOOLTIPS = ("The loaded encoder; its feature kind must match the one the DiT checkpoint was trained on.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "encoder": (encoder_choices(), {"default": BUILTIN_MEL, "tooltip": (
                "'built-in mel': 80-band log-mel, instant, no download (kind mel80, 320 values per frame). A HuBERT "
                "folder or file (e.g. hubert-base-ls960, 360 MB) gives kind 'hubert' (768 per frame), slower and "
                "needs a DiT trained on it. Put models in models/audio_encoders and refresh.")}),
            "dtype": (list(comfy_adapter.DTYPE_CHOICES), {"default": "auto", "tooltip": (
                "Precision of HuBERT weights: 'auto' picks bf16/fp16 on a GPU (half the memory, faster) and fp32 on "
                "CPU; fp32 is the most exact. Ignored by the built-in mel.")}),
        }}

    def load(self, encoder, dtype):
        return (AudioEncoder.load(encoder, dtype),)


class MoDiTEncodeAudio:
    DESCRIPTION = ("Turns a speech recording into one feature row per video frame at the chosen fps (the audio "
                   "latents of the MoDiT paper), and returns the audio trimmed/padded to exactly those frames so "
                   "CreateVideo keeps picture and sound in sync. Long recordings are processed in chunks.")
    CATEGORY = "MoDiT/audio"
    FUNCTION = "encode"
    RETURN_TYPES = (MODIT_AUDIO_FEATURES, "AUDIO", "INT", "FLOAT")
    RETURN_NAMES = ("audio_features", "audio", "frame_count", "fps")
    OUTPUT_TOOLTIPS = (
        "Per-frame speech features for the MoDiT samplers.",
        "The mono audio padded to exactly frame_count frames (ceil rule): connect it to CreateVideo.",
        "Number of video frames T = ceil(seconds * fps); a partial last frame counts.",
        "The frame rate used; connect it to CreateVideo's fps.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "audio": ("AUDIO", {"tooltip": "Speech at any sample rate and channel count (downmixed to mono and "
                                               "resampled to 16 kHz internally). Silence is fine."}),
                "fps": ("FLOAT", {"default": 25.0, "min": FPS_MIN, "max": FPS_MAX, "step": 0.01, "tooltip": (
                    "Video frame rate. 25 matches Wav2Lip/SadTalker and the embedded DiT; higher rates give more "
                    "frames to sample and render (cost grows linearly).")}),
            },
            "optional": {
                "audio_encoder": (MODIT_AUDIO_ENCODER, {"tooltip": (
                    "From MoDiT Load Audio Encoder. Leave empty for the built-in mel (fast, no weights).")}),
                "audio_encoder_output": ("AUDIO_ENCODER_OUTPUT", {"tooltip": (
                    "Core AudioEncoderEncode output (wav2vec2 / whisper) of the SAME audio, to share one encoder "
                    "with Wan workflows; gives kind 'wav2vec2' or 'whisper'. Use instead of audio_encoder.")}),
            },
        }

    def encode(self, audio, fps, audio_encoder=None, audio_encoder_output=None):
        if audio_encoder is not None and audio_encoder_output is not None:
            raise ValueError("MoDiT Encode Audio: both audio_encoder and audio_encoder_output are connected; "
                             "connect only one (the encoder output is already encoded audio)")
        if not FPS_MIN <= fps <= FPS_MAX:
            raise ValueError(f"MoDiT Encode Audio: fps must be in [{FPS_MIN}, {FPS_MAX}], got {fps}")
        if audio_encoder_output is not None:
            features = features_from_encoder_output(audio_encoder_output, audio, fps)
        else:
            features = (audio_encoder or AudioEncoder.builtin_mel()).encode(audio, fps)
        return (features, features.to_comfy_audio(), features.num_frames, float(features.fps))


NODE_CLASS_MAPPINGS = {
    "MoDiTLoadAudioEncoder": MoDiTLoadAudioEncoder,
    "MoDiTEncodeAudio": MoDiTEncodeAudio,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "MoDiTLoadAudioEncoder": "MoDiT Load Audio Encoder",
    "MoDiTEncodeAudio": "MoDiT Encode Audio",
}
