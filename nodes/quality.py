"""Quality measures users can pick seeds with: MoDiT Lip-Sync Score."""
import torch

from ..modit import comfy_adapter
from ..modit.audio.alignment import align_audio
from ..modit.quality.lip_sync import mouth_opening, speech_envelope, sync_offset
from ..modit.quality.plots import sync_plot
from ..modit.quality.tracking import track_faces
from .comfy_io import io


class MoDiTLipSyncScore(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTLipSyncScore",
            display_name="MoDiT Lip-Sync Score",
            category="MoDiT/quality",
            description=("Measures how well the mouth in a clip follows its speech: re-analyses every frame with the "
                         "face stack, correlates mouth opening with speech loudness over a range of lags, and "
                         "reports the best offset (frames; positive = video late) and a confidence. Use it to "
                         "compare seeds and settings."),
            inputs=[
                io.Image.Input("frames", tooltip="The rendered clip [T, H, W, 3]. Costs about 0.15 s per frame on a "
                                                 "CPU."),
                io.Audio.Input("audio", tooltip="The speech that goes with the frames (e.g. Encode Audio's aligned "
                                                "audio)."),
                io.Float.Input("fps", default=25.0, min=1.0, max=120.0, step=0.01, tooltip="Frame rate of the clip."),
                io.Int.Input("max_offset", default=15, min=1, max=60, tooltip="Largest lag searched, in frames each "
                                                                              "way."),
            ],
            outputs=[
                io.Int.Output("offset", tooltip="Best lag in frames: 0 = in sync, +n = the mouth moves n frames after "
                                                "the audio."),
                io.Float.Output("confidence", tooltip="Peak correlation minus the median over all lags; above ~0.3 "
                                                      "the offset is trustworthy."),
                io.Image.Output("plot", tooltip="Mouth and speech curves, and the correlation per lag."),
            ],
        )

    @classmethod
    def execute(cls, frames, audio, fps, max_offset) -> io.NodeOutput:
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
        return io.NodeOutput(result.offset, result.confidence, plot)


NODES = (MoDiTLipSyncScore,)
