"""MoDiT Extract Motion: a real video's expression, head pose and blinks as MODIT_MOTION (issue 14)."""
import logging

import torch

from . import sockets
from .comfy_io import io

log = logging.getLogger(__name__)


def _video_parts(video):
    """(frames IMAGE, audio AUDIO | None, fps) of a core VIDEO (VideoInput.get_components)."""
    get = getattr(video, "get_components", None)
    if get is None:
        raise ValueError(f"video: expected core VIDEO (from Load Video or Create Video), got {type(video).__name__}")
    parts = get()
    return parts.images, getattr(parts, "audio", None), float(parts.frame_rate)


def _audio_for(audio: dict | None, num_frames: int, fps: float) -> dict | None:
    """The AUDIO trimmed or zero-padded to exactly cover the frames (modit/timing.py rule)."""
    if audio is None:
        return None
    from ..modit.timing import samples_for_frames

    waveform, rate = audio["waveform"], int(audio["sample_rate"])
    samples = samples_for_frames(num_frames, rate, fps)
    waveform = waveform[..., :samples]
    if waveform.shape[-1] < samples:
        waveform = torch.nn.functional.pad(waveform, (0, samples - waveform.shape[-1]))
    return {"waveform": waveform, "sample_rate": rate}


class MoDiTExtractMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        from ..modit.data.motion_track import MISSING_FACE_POLICIES

        return io.Schema(
            node_id="MoDiTExtractMotion",
            display_name="MoDiT Extract Motion",
            category="MoDiT/motion/tools",
            description=("Reads a talking video frame by frame with the embedded face stack and returns its "
                         "expression, head pose and blinks as a motion track: reuse a real performance, give Blink "
                         "& Pose a reference, or save it with Save Motion. About 0.05 s per frame on one CPU core."),
            inputs=[
                io.Float.Input("fps", default=25.0, min=1.0, max=120.0, step=0.001, tooltip=(
                    "Frame rate of the connected frames (ignored with a VIDEO, which carries its own). The motion "
                    "keeps this rate; Encode Audio should use the same.")),
                io.Combo.Input("missing_face", options=list(MISSING_FACE_POLICIES), default=MISSING_FACE_POLICIES[0],
                               tooltip=("Frames where no face is tracked: interpolate between neighbours, hold the "
                                        "previous frame, or stop with an error naming the frame.")),
                io.Image.Input("frames", optional=True,
                               tooltip="The video's frames [T, H, W, C]; one face visible throughout."),
                io.Video.Input("video", optional=True, tooltip=(
                    "A core VIDEO instead of frames (its frames, fps and audio are used).")),
                io.Audio.Input("audio", optional=True, tooltip=(
                    "The video's speech, passed on aligned to the frames (overrides the VIDEO's own track).")),
                sockets.Face.Input("face", optional=True, tooltip=(
                    "A source face to retarget to: expression becomes its beta_0 plus the video's change from its "
                    "first frame, so the source keeps its own look. Without it, the video's absolute expression.")),
            ],
            outputs=[
                sockets.Motion.Output("motion", tooltip=(
                    "The video's motion: expression in embedded-v1, pose offsets from the first frame with a face, "
                    "eye closure 0 (open) .. 1 (closed); fps = the frames' rate.")),
                io.Audio.Output("audio", tooltip=(
                    "The connected audio (or the video's own), trimmed or padded to the frames; None if neither.")),
            ],
        )

    @classmethod
    def execute(cls, fps, missing_face, frames=None, video=None, audio=None, face=None) -> io.NodeOutput:
        from ..modit.data.motion_track import extract_motion

        if frames is not None and video is not None:
            raise ValueError("MoDiT Extract Motion: both frames and video are connected; connect only one")
        if video is not None:
            frames, video_audio, fps = _video_parts(video)
            audio = audio if audio is not None else video_audio
        if frames is None:
            raise ValueError("MoDiT Extract Motion: connect frames (IMAGE) or a video (VIDEO)")
        if face is not None and face.space != "embedded-v1":
            raise ValueError(f"face: its space is {face.space!r}; Extract Motion reads embedded-v1 coefficients")
        extracted = extract_motion(frames, float(fps), missing_face, face.beta_0 if face is not None else None)
        motion = extracted.motion
        return io.NodeOutput(motion, _audio_for(audio, motion.num_frames, motion.fps))


NODES = (MoDiTExtractMotion,)
