"""Curves of a motion track for display on the node (web/modit.js): mouth open, eye closure, yaw/pitch/roll."""
import math

import torch

from .face.components import COMPONENT_NAMES, JAW_OPEN, SPACE_NAME
from .types import Motion

MAX_POINTS = 400  # enough for a node-sized plot; long clips are max-pooled down to this


def _downsample(curve: torch.Tensor, points: int) -> list[float]:
    curve = curve.detach().float().cpu().reshape(-1)
    if curve.numel() > points:
        stride = math.ceil(curve.numel() / points)
        pad = stride * math.ceil(curve.numel() / stride) - curve.numel()
        curve = torch.cat([curve, curve[-1:].expand(pad)]).reshape(-1, stride)
        curve = torch.where(curve.abs().amax(1) == curve.amax(1), curve.amax(1), curve.amin(1))  # keep peaks' sign
    return [round(float(v), 4) for v in curve]


def motion_curves(motion: Motion, points: int = MAX_POINTS) -> dict:
    """A JSON-able summary: duration, frames, fps and downsampled curves (radians shown as degrees)."""
    mouth = motion.expression[:, JAW_OPEN] if motion.space == SPACE_NAME and motion.expression.shape[1] == len(COMPONENT_NAMES) \
        else motion.expression.norm(dim=1)
    return {
        "frames": motion.num_frames,
        "fps": motion.fps,
        "duration": round(motion.duration, 3),
        "space": motion.space,
        "curves": {
            "mouth open": _downsample(mouth, points),
            "eye closure": _downsample(motion.eye_closure.mean(dim=1), points),
            "yaw (deg)": _downsample(torch.rad2deg(motion.pose[:, 0]), points),
            "pitch (deg)": _downsample(torch.rad2deg(motion.pose[:, 1]), points),
            "roll (deg)": _downsample(torch.rad2deg(motion.pose[:, 2]), points),
        },
    }


def motion_ui(motion: Motion) -> dict:
    """What a node shows of a motion track (its ui dict, drawn by web/modit.js; UI values must be lists)."""
    return {"modit_motion": [motion_curves(motion)]}
