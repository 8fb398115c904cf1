"""A video's own performance as a MODIT_MOTION (the MoDiT Extract Motion node).

Every frame is read by the tracker of tracking.py (the same reading the training data uses), then:
    expression   the frame's embedded-v1 coefficients; with a source face, retargeted as
                 beta_0(source) + (e_t - e_first): the source keeps its own expression and moves as the video does
    pose         offsets from the first frame with a face (MODIT_MOTION POSE_CHANNELS): angles, the rigid head
                 origin's shift over the first face's crop side, log scale change; lightly smoothed (sigma 1 frame) so landmark jitter does not read as tremor
    eye_closure  1 - openness / (the eye's open level: its 90th percentile over the clip), clamped to 0..1
Frames where tracking fails (no face, or the mesh loses it) follow a named policy, MISSING_FACE_POLICIES:
    "interpolate"    linear between the nearest frames with a face (edges hold the nearest one)
    "hold previous"  repeat the last frame with a face (leading frames take the first one)
    "error"          stop with the frame number
A sudden picture change (a shot cut) restarts the tracker, so it never follows a stale region.
"""
import logging
from dataclasses import dataclass

import numpy as np
import torch

from .. import comfy_adapter
from ..face.components import SPACE_NAME
from ..motion.filters import fill_missing, gaussian_smooth
from ..types import Motion
from . import gates
from .tracking import FaceTracker

log = logging.getLogger(__name__)

MISSING_FACE_POLICIES = ("interpolate", "hold previous", "error")
POSE_SMOOTHING_FRAMES = 1.0


@dataclass(frozen=True)
class ExtractedMotion:
    motion: Motion
    found: torch.Tensor  # [T] bool, False where the policy filled the frame
    mouth_open: torch.Tensor  # [T] inner-lip gap / inter-ocular distance (filled like the rest)


def extract_motion(frames: torch.Tensor, fps: float, policy: str = "interpolate", beta_0: torch.Tensor | None = None,
                   tracker: FaceTracker | None = None) -> ExtractedMotion:
    """MODIT_MOTION of an IMAGE batch [T, H, W, C] 0..1 (see the module docstring)."""
    if policy not in MISSING_FACE_POLICIES:
        raise ValueError(f"missing_face: {policy!r} is not one of {MISSING_FACE_POLICIES}")
    if not isinstance(frames, torch.Tensor) or frames.ndim != 4 or frames.shape[0] == 0 or frames.shape[-1] < 3:
        shape = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise ValueError(f"frames: expected an IMAGE batch [T, H, W, 3] with T >= 1, got {shape}")
    if not fps > 0:
        raise ValueError(f"fps: must be positive, got {fps}")
    tracker = tracker or FaceTracker()
    tracker.reset()
    T = frames.shape[0]
    expression, rotation = np.zeros((T, 12)), np.zeros((T, 3))
    centre, scale, openness, mouth = np.zeros((T, 2)), np.ones(T), np.zeros((T, 2)), np.zeros(T)
    side = 1.0
    found = np.zeros(T, dtype=bool)
    progress = comfy_adapter.Progress(T)
    previous = None
    for i in range(T):
        image = frames[i, ..., :3].float().clamp(0, 1)
        thumb = gates.thumbnail((image.cpu().numpy() * 255).astype(np.uint8))
        if gates.pixel_jump(previous, thumb) > gates.PIXEL_CUT:
            tracker.reset()
        previous = thumb
        measure = tracker.measure(image.cpu())
        progress.update()
        if not measure.face:
            if policy == "error":
                raise ValueError(f"frames: no face found in frame {i} (of {T}); use a clip where one face is "
                                 f"visible throughout, trim it, or set missing_face to 'interpolate' or "
                                 f"'hold previous'")
            continue
        found[i] = True
        expression[i], rotation[i], centre[i] = measure.expression, measure.rotation, measure.centre
        scale[i], openness[i], mouth[i] = measure.scale, measure.openness, measure.mouth_open
        if found.sum() == 1:
            side = measure.side  # the first face's crop side: the unit of tx, ty
    if not found.any():
        raise ValueError(f"frames: no face found in any of the {T} frames; use a video where one face is clearly "
                         f"visible (at least ~100 px wide)")
    if not found.all():
        log.warning("extract motion: no face in %d of %d frames (first: frame %d); filled by '%s'",
                    int((~found).sum()), T, int(np.argmin(found)), policy)
        expression, rotation, centre = (fill_missing(v, found, policy) for v in (expression, rotation, centre))
        scale, openness = fill_missing(scale[:, None], found, policy)[:, 0], fill_missing(openness, found, policy)
        mouth = fill_missing(mouth[:, None], found, policy)[:, 0]
    first = int(np.argmax(found))
    head = gaussian_smooth(np.concatenate([rotation, centre, np.log(scale)[:, None]], 1), POSE_SMOOTHING_FRAMES)
    pose = np.zeros((T, 6))
    pose[:, :3] = head[:, :3] - head[first, :3]
    pose[:, 3:5] = (head[:, 3:5] - head[first, 3:5]) / side
    pose[:, 5] = head[:, 5] - head[first, 5]
    open_level = np.maximum(np.percentile(openness, 90, axis=0), 0.2)
    closure = np.clip(1.0 - openness / open_level, 0.0, 1.0)
    if beta_0 is not None:
        expression = beta_0.double().cpu().numpy()[None] + (expression - expression[first])
    motion = Motion(expression=torch.from_numpy(expression).float(), pose=torch.from_numpy(pose).float(),
                    eye_closure=torch.from_numpy(closure).float(), fps=float(fps), space=SPACE_NAME)
    return ExtractedMotion(motion, torch.from_numpy(found), torch.from_numpy(mouth).float())
