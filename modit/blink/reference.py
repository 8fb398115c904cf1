"""Pose and blinks measured on a driving video and transferred (paper §3.4.4, reference-driven variant).

Each reference frame is analysed with the face stack (modit.face.analysis.analyse_portrait) and expressed
relative to the first frame where a face was found, in the Motion conventions:
- yaw, pitch, roll: the frame's head rotation minus the first frame's (radians);
- tx, ty: the face centre's image shift divided by the first face's crop side (crop-size units, x right, y down);
- tz: log of the face's size relative to the first frame;
- eye closure: 1 - openness / (the eye's open level: its 90th percentile over the clip), clamped to 0..1.
Frames where no face is found are filled by interpolating their neighbours (logged). The measured head is
lightly smoothed before the offsets are taken (landmark jitter would read as head tremor), so the first frame
is exactly the source pose; eye closure is not smoothed, so blinks stay sharp.
"""
import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import comfy_adapter
from ..motion.filters import fill_missing, gaussian_smooth
from ..types import Face

log = logging.getLogger(__name__)

REFERENCE_USES = ("pose and blinks", "pose only", "blinks only")
POSE_SMOOTHING_FRAMES = 1.0  # Gaussian sigma: removes frame-to-frame landmark jitter, keeps nods


@dataclass(frozen=True)
class ReferenceTrack:
    """Pose and eye closure measured on R reference frames."""

    pose: torch.Tensor  # [R, 6] float32 offsets from the first analysed frame (POSE_CHANNELS)
    eye_closure: torch.Tensor  # [R, 2] float32 0..1 (left, right)
    found: torch.Tensor  # [R] bool, False where no face was found and values were interpolated

    @property
    def num_frames(self) -> int:
        return self.pose.shape[0]


def _face_geometry(face: Face) -> tuple[np.ndarray, float]:
    """(face centre in image px [2], crop side in image px) of an analysed frame."""
    affine = face.crop_to_image.double()
    points = face.landmarks[:, :2].double()
    image_points = points @ affine[:, :2].T + affine[:, 2]  # [468, 2]
    side = float(affine[:, 0].norm()) * face.crop_size
    return image_points.mean(dim=0).numpy(), side


def measure_reference(frames: torch.Tensor, analyse=None) -> ReferenceTrack:
    """Measure pose and eye closure on an IMAGE batch [R, H, W, C] (0..1); one face-stack pass per frame.

    analyse: callable(image [H, W, C]) -> Face; default analyse_portrait from the embedded face stack.
    """
    if not isinstance(frames, torch.Tensor) or frames.ndim != 4 or frames.shape[0] == 0:
        shape = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise ValueError(f"reference_frames: expected an IMAGE batch [R, H, W, C] with R >= 1, got {shape}")
    if analyse is None:
        try:
            from ..face.analysis import analyse_portrait as analyse
        except ImportError as error:
            raise RuntimeError(f"reference_frames: the face analysis stage (modit/face/analysis.py and the "
                               f"embedded face stack) is missing from this install ({error}); update the pack "
                               f"or disconnect reference_frames") from error
    R = frames.shape[0]
    rotation = np.zeros((R, 3))
    centre = np.zeros((R, 2))
    side = np.ones(R)
    openness = np.zeros((R, 2))
    found = np.zeros(R, dtype=bool)
    progress = comfy_adapter.Progress(R)
    for i in range(R):
        try:
            face = analyse(frames[i])
        except ValueError as error:  # no face in this frame: filled from its neighbours below
            log.debug("reference frame %d: %s", i, error)
            progress.update()
            continue
        rotation[i] = face.pose[:3].double().numpy()
        centre[i], side[i] = _face_geometry(face)
        openness[i] = face.eye_openness.double().numpy()
        found[i] = True
        progress.update()
    if not found.any():
        raise ValueError(f"reference_frames: no face found in any of the {R} frames; use a driving video where "
                         f"one face is clearly visible, or disconnect reference_frames")
    if not found.all():
        log.warning("reference: no face in %d of %d frames; their pose and eyes are interpolated",
                    int((~found).sum()), R)
    rotation, centre = fill_missing(rotation, found), fill_missing(centre, found)
    side, openness = fill_missing(side[:, None], found)[:, 0], fill_missing(openness, found)

    # Smooth the measurements before taking offsets, so the first analysed frame is exactly the zero pose.
    head = gaussian_smooth(np.concatenate([rotation, centre, np.log(side)[:, None]], axis=1), POSE_SMOOTHING_FRAMES)
    first = int(np.argmax(found))
    side_first = math.exp(head[first, 5])
    pose = np.zeros((R, 6))
    pose[:, :3] = head[:, :3] - head[first, :3]
    pose[:, 3:5] = (head[:, 3:5] - head[first, 3:5]) / side_first
    pose[:, 5] = head[:, 5] - head[first, 5]
    open_level = np.maximum(np.percentile(openness, 90, axis=0), 0.2)  # [2]; 0.2 guards a clip of closed eyes
    closure = np.clip(1.0 - openness / open_level, 0.0, 1.0)
    return ReferenceTrack(pose=torch.from_numpy(pose).float(), eye_closure=torch.from_numpy(closure).float(),
                          found=torch.from_numpy(found))


def fit_length(track: torch.Tensor, num_frames: int) -> torch.Tensor:
    """[R, C] -> [T, C]: trimmed when longer; when shorter, played forward and backward (ping-pong) so the
    motion never jumps back to its start."""
    R = track.shape[0]
    if R >= num_frames or R == 1:
        return track[:num_frames] if R >= num_frames else track.expand(num_frames, -1).clone()
    period = 2 * (R - 1)
    phase = torch.arange(num_frames) % period
    index = torch.where(phase < R, phase, period - phase)
    return track[index]
