"""Audio encoding (paper §3.2 audio latents): MoDiT Load Audio Encoder, MoDiT Encode Audio.

MODIT_AUDIO_ENCODER carries a modit.audio.encoder.AudioEncoder handle (kind, dim, encode).
MODIT_AUDIO_FEATURES carries a modit.types.AudioFeatures: features [T, D] aligned to frames, fps, kind, and
the mono audio padded to exactly T frames; both are read window by window (the built-in mel's rows are computed
as the sampler asks for them), so a long recording is never held whole.
"""
from ..modit import comfy_adapter
from ..modit.audio.encoder import BUILTIN_WHISPER, AudioEncoder, encoder_choices, features_from_encoder_output
from . import sockets
from .comfy_io import io

FPS_MIN, FPS_MAX = 10.0, 60.0


class MoDiTLoadAudioEncoder(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTLoadAudioEncoder",
            display_name="MoDiT Load Audio Encoder",
            category="MoDiT/audio",
            description=("Chooses the speech features the DiT is driven by: the built-in log-mel (no weights, what "
                         "Wav2Lip and SadTalker use), the built-in log-mel beside OpenAI Whisper base's features "
                         "(bundled, what the default DiT hears), or a HuBERT / wav2vec2 model from "
                         "models/audio_encoders or models/modit (a save_pretrained folder or one .safetensors file), "
                         "as in the MoDiT paper."),
            inputs=[
                io.Combo.Input("encoder", options=encoder_choices(), default=BUILTIN_WHISPER, tooltip=(
                    "'built-in whisper base + mel': the log-mel beside 4 layers of OpenAI Whisper base (bundled, "
                    "MIT; about 1 s of CPU per 30 s of speech; kind mel80+whisper4, 832 per frame): what 'embedded "
                    "v5', 'embedded v4' and 'embedded v3' need, and it follows unseen speakers' lips best. "
                    "'built-in mel': 80-band log-mel only, instant (kind mel80, 320 per frame), for 'embedded v2' and "
                    "v1. A HuBERT folder or file (e.g. hubert-base-ls960) gives kind 'hubert' (768 per frame) and "
                    "needs a DiT trained on it. "
                    "Put models in models/audio_encoders and refresh.")),
                io.Combo.Input("dtype", options=list(comfy_adapter.DTYPE_CHOICES), default="auto", tooltip=(
                    "Precision of Whisper / HuBERT weights: 'auto' picks bf16/fp16 on a GPU (half the memory, "
                    "faster) and fp32 on CPU; fp32 is the most exact. Ignored by the built-in mel.")),
            ],
            outputs=[sockets.AudioEncoder.Output("audio_encoder", tooltip=(
                "The loaded encoder; its feature kind must match the one the DiT checkpoint was trained on."))],
        )

    @classmethod
    def execute(cls, encoder, dtype) -> io.NodeOutput:
        return io.NodeOutput(AudioEncoder.load(encoder, dtype))


class MoDiTEncodeAudio(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTEncodeAudio",
            display_name="MoDiT Encode Audio",
            category="MoDiT/audio",
            description=("Turns a speech recording into one feature row per video frame at the chosen fps (the "
                         "audio latents of the MoDiT paper), and returns the audio trimmed/padded to exactly those "
                         "frames so CreateVideo keeps picture and sound in sync. Long recordings are processed in "
                         "chunks."),
            inputs=[
                io.Audio.Input("audio", tooltip="Speech at any sample rate and channel count (downmixed to mono and "
                                                "resampled to 16 kHz internally). Silence is fine."),
                io.Float.Input("fps", default=25.0, min=FPS_MIN, max=FPS_MAX, step=0.01, tooltip=(
                    "Video frame rate. 25 matches Wav2Lip/SadTalker and the embedded DiT; higher rates give more "
                    "frames to sample and render (cost grows linearly).")),
                sockets.AudioEncoder.Input("audio_encoder", optional=True, tooltip=(
                    "From MoDiT Load Audio Encoder (the bundled workflows load 'built-in whisper base + mel', what "
                    "the default DiT needs). Leave empty for the built-in mel alone (fast, no weights; for "
                    "'embedded v2' and v1).")),
                io.AudioEncoderOutput.Input("audio_encoder_output", optional=True, tooltip=(
                    "Core AudioEncoderEncode output (wav2vec2 / whisper) of the SAME audio, to share one encoder "
                    "with Wan workflows; gives kind 'wav2vec2' or 'whisper'. Use instead of audio_encoder.")),
            ],
            outputs=[
                sockets.AudioFeatures.Output("audio_features",
                                             tooltip="Per-frame speech features for the MoDiT samplers."),
                io.Audio.Output("audio", tooltip="The mono audio padded to exactly frame_count frames (ceil rule): "
                                                 "connect it to CreateVideo."),
                io.Int.Output("frame_count", tooltip="Number of video frames T = ceil(seconds * fps); a partial "
                                                     "last frame counts."),
                io.Float.Output("fps", tooltip="The frame rate used; connect it to CreateVideo's fps."),
            ],
        )

    @classmethod
    def execute(cls, audio, fps, audio_encoder=None, audio_encoder_output=None) -> io.NodeOutput:
        if audio_encoder is not None and audio_encoder_output is not None:
            raise ValueError("MoDiT Encode Audio: both audio_encoder and audio_encoder_output are connected; "
                             "connect only one (the encoder output is already encoded audio)")
        if not FPS_MIN <= fps <= FPS_MAX:
            raise ValueError(f"MoDiT Encode Audio: fps must be in [{FPS_MIN}, {FPS_MAX}], got {fps}")
        if audio_encoder_output is not None:
            features = features_from_encoder_output(audio_encoder_output, audio, fps)
        else:
            features = (audio_encoder or AudioEncoder.builtin_mel()).encode(audio, fps)
        return io.NodeOutput(features, features.to_comfy_audio(), features.num_frames, float(features.fps))


NODES = (MoDiTLoadAudioEncoder, MoDiTEncodeAudio)
