"""Which frames and utterances of a real clip become training data; every rejection has a named reason.

Frame gates (first failing reason wins, in this order):
    no_face         the mesh sees no face (no detection, or presence < 0.5)
    multiple_faces  BlazeFace finds more than one face of a meaningful size (split screens, audiences)
    low_score       the tracked face's detection score < MIN_SCORE (or no detection covers it)
    shot_cut        the picture or the face jumps: thumbnail change > PIXEL_CUT, or rigid landmarks move more
                    than LANDMARK_CUT inter-ocular distances since the previous frame (the tracker restarts)
    yaw / pitch     head turned more than MAX_YAW / MAX_PITCH degrees from frontal (the mesh degrades there)
A gated frame ends the current segment; the kept runs between gated frames are the utterances, then:
    short_segment   a run shorter than min_seconds (the DiT trains on windows of whole seconds)
    silent          the run's audio stays below SILENCE_DB (dBFS per frame) on more than SILENT_SHARE of frames,
                    i.e. no speech to learn from
Clip gates: no_audio (neither a paired .wav nor an audio track), no_frames (nothing decodable).
"""
import math
from dataclasses import dataclass

import numpy as np

from ..face import landmarks as lm

MAX_YAW = 35.0  # degrees (MediaPipe meshes hold to ~45; the mouth fit degrades beyond ~35)
MAX_PITCH = 30.0
PIXEL_CUT = 0.12  # mean |change| of a 32x32 grey thumbnail (0..1) between consecutive output frames
LANDMARK_CUT = 0.35  # rigid-landmark motion between consecutive frames, inter-ocular distances
SILENCE_DB = -45.0  # frame level (10 log10 of the mean square) below which a frame holds no speech
SILENT_SHARE = 0.9  # a run is "silent" when at least this share of its frames is below SILENCE_DB
MIN_SECONDS = 2.0

FRAME_REASONS = ("no_face", "multiple_faces", "low_score", "shot_cut", "yaw", "pitch")
SEGMENT_REASONS = ("short_segment", "silent")


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """[32, 32] float32 grey 0..1 of an RGB uint8 frame: the picture-jump detector's view."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def pixel_jump(previous: np.ndarray | None, current: np.ndarray) -> float:
    return 0.0 if previous is None else float(np.abs(current - previous).mean())


def landmark_jump(previous: np.ndarray | None, current: np.ndarray, inter_ocular: float) -> float:
    """Median motion of the rigid landmarks between two frames' meshes, in inter-ocular distances."""
    if previous is None or inter_ocular <= 0:
        return 0.0
    rigid = list(lm.RIGID)
    return float(np.median(np.linalg.norm(current[rigid, :2] - previous[rigid, :2], axis=-1)) / inter_ocular)


def frame_reason(measure, cut: bool, min_score: float) -> str | None:
    """The first frame gate this frame fails (None = kept). `measure` is a tracking.FrameMeasure."""
    if not measure.face:
        return "no_face"
    if measure.faces > 1:
        return "multiple_faces"
    if measure.score < min_score:
        return "low_score"
    if cut:
        return "shot_cut"
    if abs(math.degrees(measure.rotation[0])) > MAX_YAW:
        return "yaw"
    if abs(math.degrees(measure.rotation[1])) > MAX_PITCH:
        return "pitch"
    return None


@dataclass(frozen=True)
class Segment:
    start: int  # first output frame
    stop: int  # one past the last
    reason: str | None  # None = kept as an utterance

    @property
    def length(self) -> int:
        return self.stop - self.start


def segments(reasons: list, level_db: np.ndarray, fps: float, min_seconds: float = MIN_SECONDS) -> list[Segment]:
    """Runs of kept frames (reason None) as Segments, each kept or gated by the segment gates."""
    out, start = [], None
    min_frames = int(math.ceil(min_seconds * fps))
    for i, reason in enumerate(list(reasons) + ["end"]):
        if reason is None and start is None:
            start = i
        elif reason is not None and start is not None:
            if i - start < min_frames:
                verdict = "short_segment"
            elif np.mean(level_db[start:i] < SILENCE_DB) >= SILENT_SHARE:
                verdict = "silent"
            else:
                verdict = None
            out.append(Segment(start, i, verdict))
            start = None
    return out
