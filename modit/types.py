"""Data passed between pipeline stages: the MODIT_* socket type strings and their dataclasses.

Shape letters: T video frames, K expression coefficients, D feature width, N landmarks, S audio samples,
H, W image size. Every dataclass checks in `__post_init__` that its fields agree, so a bad hand-off fails
at the node that made it, not three nodes later.

Dataclasses are frozen and nodes never mutate them: ComfyUI caches outputs and passes them by reference.
"""
from dataclasses import dataclass, field

import torch

from .timing import samples_for_frames

# Socket type strings (ComfyUI links sockets by exact string equality; nodes/sockets.py declares them).
MODIT_AUDIO_FEATURES = "MODIT_AUDIO_FEATURES"
MODIT_FACE = "MODIT_FACE"
MODIT_MOTION = "MODIT_MOTION"
MODIT_AUDIO_ENCODER = "MODIT_AUDIO_ENCODER"
MODIT_DIT_MODEL = "MODIT_DIT_MODEL"
MODIT_WAV2LIP_MODEL = "MODIT_WAV2LIP_MODEL"

# Motion.pose channels, all relative to the source portrait's own head pose (zero pose = the source pose):
# yaw, pitch, roll in radians (yaw > 0 turns the face to the viewer's right, pitch > 0 tilts the chin up,
# roll > 0 tilts the head clockwise on screen); tx, ty in units of the face crop size (x right, y down);
# tz is a log scale change (0 = same size, > 0 = closer / larger).
POSE_CHANNELS = ("yaw", "pitch", "roll", "tx", "ty", "tz")

# Motion.eye_closure channels: 0 = the eye as open as in the source, 1 = fully closed.
EYE_CHANNELS = ("left", "right")  # the subject's left and right eye


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


class AudioFeatures:
    """Speech features aligned to video frames, plus the audio they came from.

    Both may be lazy, so that a long recording is never held whole (an hour of 22 kHz audio is 317 MB, its mel80
    features 110 MB): `track` is a [T, D] tensor or a FeatureTrack (rows computed per window, features.py);
    `samples` is the mono aligned audio as a Samples (read per window, samples.py). Pack code reads `track[a:b]`
    and `samples.read(a, b)`; `features` and `waveform` build whole tensors (tests, benches, small clips).
    Immutable: ComfyUI caches outputs and passes them by reference.
    """

    __slots__ = ("track", "fps", "kind", "samples", "sample_rate")

    def __init__(self, features, fps: float, kind: str, waveform, sample_rate: int):
        """features: [T, D] tensor or FeatureTrack; waveform: [S] float32 mono in -1..1 tensor or mono Samples,
        S == samples_for_frames(T, sample_rate, fps)."""
        from .audio.samples import Samples, TensorSamples

        if torch.is_tensor(waveform):
            _check(waveform.ndim == 1, f"AudioFeatures.waveform must be [S], got {tuple(waveform.shape)}")
            waveform = TensorSamples(waveform, sample_rate)
        _check(isinstance(waveform, Samples) and waveform.channels == 1,
               f"AudioFeatures.waveform must be mono [S] audio, got {waveform!r}")
        _check(len(features.shape) == 2, f"AudioFeatures.features must be [T, D], got {tuple(features.shape)}")
        _check(fps > 0, f"AudioFeatures.fps must be positive, got {fps}")
        for name, value in (("track", features), ("fps", fps), ("kind", kind), ("samples", waveform),
                            ("sample_rate", int(sample_rate))):
            object.__setattr__(self, name, value)
        expected = samples_for_frames(self.num_frames, self.sample_rate, self.fps)
        _check(waveform.length == expected,
               f"AudioFeatures: {self.num_frames} frames at {self.fps} fps need {expected} samples at "
               f"{self.sample_rate} Hz, got {waveform.length}")

    def __setattr__(self, name, value):
        raise AttributeError(f"AudioFeatures is immutable (ComfyUI caches it); cannot set {name}")

    @property
    def num_frames(self) -> int:
        return self.track.shape[0]

    @property
    def dim(self) -> int:
        return self.track.shape[1]

    @property
    def duration(self) -> float:
        """Seconds of video covered (num_frames / fps)."""
        return self.num_frames / self.fps

    @property
    def features(self) -> torch.Tensor:
        """All rows [T, D] float32 as one tensor (built if the track is lazy: feature-sized)."""
        return self.track if torch.is_tensor(self.track) else self.track.tensor()

    @property
    def waveform(self) -> torch.Tensor:
        """The aligned mono audio [S] float32 as one tensor (a view when it is one already; else audio-sized)."""
        return self.samples.tensor()[0]

    def to_comfy_audio(self) -> dict:
        """The aligned audio as a core AUDIO dict {"waveform": [1, 1, S], "sample_rate"}: a tensor when the audio
        is in memory (a view where no padding is needed), else a StreamedAudio that builds it when read."""
        from .audio.samples import StreamedAudio

        if self.samples.in_memory:
            return {"waveform": self.samples.tensor().reshape(1, 1, -1), "sample_rate": self.sample_rate}
        return StreamedAudio(self.samples)


@dataclass(frozen=True, eq=False)
class Face:
    """The analysed source portrait (paper §3.1): geometry, pose, beta_0 and eye state.

    Crop pixel coordinates: x right, y down, origin at the crop's top-left pixel corner; landmark z has the
    same scale as x (MediaPipe convention, larger z = farther from the camera).
    """

    image: torch.Tensor  # [H, W, 3] float32 0..1, the full source portrait (RGB)
    crop: torch.Tensor  # [S, S, 3] float32 0..1, the aligned face crop (roll removed)
    crop_to_image: torch.Tensor  # [2, 3] float64 affine: image_xy = crop_to_image @ [crop_x, crop_y, 1]
    landmarks: torch.Tensor  # [468, 3] float32 face mesh in crop pixels
    iris: torch.Tensor  # [2, 5, 3] float32 iris centre + 4 contour points per eye (left, right), crop pixels
    pose: torch.Tensor  # [6] float32 source head pose: yaw, pitch, roll (rad), tx, ty (crop px), scale
    beta_0: torch.Tensor  # [K] float32 source expression in `space`
    eye_openness: torch.Tensor  # [2] float32 per eye (left, right): ~1 open, ~0 closed
    neutral_mesh: torch.Tensor  # [468, 3] float32 identity mesh, canonical frame, expression removed
    space: str  # coefficient space of beta_0, e.g. "embedded-v1"
    score: float = 1.0  # detection confidence of the chosen face
    extras: dict = field(default_factory=dict)  # stage-specific data (e.g. the 68-point subset for SadTalker)

    def __post_init__(self):
        _check(self.image.ndim == 3 and self.image.shape[-1] == 3, f"Face.image must be [H, W, 3], got {tuple(self.image.shape)}")
        _check(self.crop.ndim == 3 and self.crop.shape[-1] == 3 and self.crop.shape[0] == self.crop.shape[1],
               f"Face.crop must be [S, S, 3], got {tuple(self.crop.shape)}")
        _check(tuple(self.crop_to_image.shape) == (2, 3), f"Face.crop_to_image must be [2, 3], got {tuple(self.crop_to_image.shape)}")
        _check(tuple(self.landmarks.shape) == (468, 3), f"Face.landmarks must be [468, 3], got {tuple(self.landmarks.shape)}")
        _check(tuple(self.neutral_mesh.shape) == (468, 3), f"Face.neutral_mesh must be [468, 3], got {tuple(self.neutral_mesh.shape)}")
        _check(tuple(self.pose.shape) == (6,), f"Face.pose must be [6], got {tuple(self.pose.shape)}")
        _check(self.beta_0.ndim == 1, f"Face.beta_0 must be [K], got {tuple(self.beta_0.shape)}")
        _check(tuple(self.eye_openness.shape) == (2,), f"Face.eye_openness must be [2], got {tuple(self.eye_openness.shape)}")

    @property
    def crop_size(self) -> int:
        return self.crop.shape[0]


@dataclass(frozen=True, eq=False)
class Motion:
    """Per-frame motion coefficients: the contract between every sampler and every renderer."""

    expression: torch.Tensor  # [T, K] float32 absolute expression coefficients in `space`
    pose: torch.Tensor  # [T, 6] float32 offsets from the source pose, see POSE_CHANNELS
    eye_closure: torch.Tensor  # [T, 2] float32 0 (as source) .. 1 (closed), see EYE_CHANNELS
    fps: float
    space: str  # coefficient space name; renderers refuse a space they cannot decode

    def __post_init__(self):
        _check(self.expression.ndim == 2, f"Motion.expression must be [T, K], got {tuple(self.expression.shape)}")
        T = self.expression.shape[0]
        _check(tuple(self.pose.shape) == (T, 6), f"Motion.pose must be [{T}, 6], got {tuple(self.pose.shape)}")
        _check(tuple(self.eye_closure.shape) == (T, 2), f"Motion.eye_closure must be [{T}, 2], got {tuple(self.eye_closure.shape)}")
        _check(self.fps > 0, f"Motion.fps must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        return self.expression.shape[0]

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @classmethod
    def still(cls, beta_0: torch.Tensor, num_frames: int, fps: float, space: str) -> "Motion":
        """The source expression held for num_frames, zero pose, eyes as in the source."""
        return cls(expression=beta_0.float().reshape(1, -1).repeat(num_frames, 1),
                   pose=torch.zeros(num_frames, 6), eye_closure=torch.zeros(num_frames, 2), fps=fps, space=space)

    def replace(self, **changes) -> "Motion":
        """A copy with some fields replaced (dataclasses.replace, re-checked)."""
        values = {"expression": self.expression, "pose": self.pose, "eye_closure": self.eye_closure,
                  "fps": self.fps, "space": self.space}
        values.update(changes)
        return Motion(**values)
