"""Quality measures users can pick seeds with: MoDiT Lip-Sync Score."""
import torch

from ..modit import comfy_adapter
from ..modit.audio.alignment import align_audio
from ..modit.quality.lip_sync import mouth_opening, speech_envelope, sync_offset
from ..modit.quality.plots import sync_plot
from ..modit.quality.tracking import track_faces


class MoDiTLipSyncScore:
    DESCRIPTION = ("Measures how well the mouth in a clip follows its speech: re-analyses every frame with the face "
                   "stack, correlates mouth opening with speech loudness over a range of lags, and reports the best "
                   "offset (frames; positive = video late) and a confidence. Use it to compare seeds and settings.")
    CATEGORY = "MoDiT/quality"
    RETURN_TYPES = ("INT", "FLOAT", "IMAGE")
    RETURN_NAMES = ("offset", "confidence", "plot")
    OUTPUT_TOOLTIPS = ("Best lag in frames: 0 = in sync, +n = the mouth moves n frames after the audio.",
                       "Peak correlation minus the median over all lags; above ~0.3 the offset is trustworthy.",
                       "Mouth and speech curves, and the correlation per lag.")
    FUNCTION = "score"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "frames": ("IMAGE", {"tooltip": "The rendered clip [T, H, W, 3]. Costs about 0.15 s per frame on a CPU."}),
            "audio": ("AUDIO", {"tooltip": "The speech that goes with the frames (e.g. Encode Audio's aligned audio)."}),
            "fps": ("FLOAT", {"default": 25.0, "min": 1.0, "max": 120.0, "step": 0.01, "tooltip": "Frame rate of the clip."}),
            "max_offset": ("INT", {"default": 15, "min": 1, "max": 60, "tooltip": "Largest lag searched, in frames each way."}),
        }}

    def score(self, frames, audio, fps, max_offset):
        if frames.ndim != 4 or frames.shape[0] < 8:
            raise ValueError(f"frames: need an IMAGE batch of at least 8 frames, got shape {tuple(frames.shape)}")
        T = frames.shape[0]
        aligned = align_audio(audio, fps)
        track = track_faces(frames)
        mouth = mouth_opening(track.landmarks.numpy())
        envelope = speech_envelope(aligned.samples, aligned.sample_rate, T, fps)
        result = sync_offset(mouth, envelope, max_lag=max_offset)
        plot = torch.from_numpy(sync_plot(mouth, envelope, result))[None]
        plot = plot.to(comfy_adapter.intermediate_device(), comfy_adapter.intermediate_dtype())
        return (result.offset, result.confidence, plot)


NODE_CLASS_MAPPINGS = {"MoDiTLipSyncScore": MoDiTLipSyncScore}
NODE_DISPLAY_NAME_MAPPINGS = {"MoDiTLipSyncScore": "MoDiT Lip-Sync Score"}
