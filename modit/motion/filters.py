"""Smoothing and scaling of motion tracks (the MoDiT Smooth Motion and Scale Expression nodes)."""
import math

import numpy as np
import torch

from ..face.components import COMPONENT_NAMES, SPACE_NAME
from ..types import Motion

# Groups of embedded-v1 components a user may scale on their own.
COMPONENT_GROUPS = {
    "all": None,
    "mouth": tuple(range(COMPONENT_NAMES.index("mouth_shift") + 1)),  # jaw_open .. mouth_shift
    "brows and cheeks": tuple(COMPONENT_NAMES.index(n) for n in ("brow_raise", "brow_lower", "cheek_raise")),
}


def fill_missing(values: np.ndarray, found: np.ndarray, policy: str = "interpolate") -> np.ndarray:
    """[T, C] with the rows where found [T] is False filled: "interpolate" = linear between the nearest found rows
    (edges hold the nearest one); "hold previous" = the last found row (leading rows take the first one)."""
    frames = np.arange(values.shape[0])
    if policy == "interpolate":
        return np.stack([np.interp(frames, frames[found], values[found, c]) for c in range(values.shape[1])], 1)
    index = np.maximum.accumulate(np.where(found, frames, -1))  # the last found frame at or before each frame
    index = np.where(index < 0, int(np.argmax(found)), index)
    return values[index]


def gaussian_smooth(values: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Smooth along axis 0 with a normalised Gaussian kernel, edges extended by their end values.

    values: [T, ...] float -> [T, ...]. A constant track stays exactly constant; sigma 0 returns a copy.
    """
    if sigma_frames <= 0 or values.shape[0] < 2:
        return values.copy()
    radius = max(1, int(math.ceil(4 * sigma_frames)))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.repeat(values[:1], radius, 0), values, np.repeat(values[-1:], radius, 0)])
    flat = padded.reshape(padded.shape[0], -1)
    out = np.stack([np.convolve(flat[:, j], kernel, mode="valid") for j in range(flat.shape[1])], axis=1)
    return out.reshape(values.shape)


def smooth_tensor(track: torch.Tensor, sigma_frames: float) -> torch.Tensor:
    """gaussian_smooth of a [T, ...] tensor along time, returned on its device in its dtype."""
    smoothed = gaussian_smooth(track.detach().double().cpu().numpy(), sigma_frames)
    return torch.from_numpy(smoothed).to(track.device, track.dtype)


def smooth_motion(motion: Motion, expression_sigma_s: float = 0.0, pose_sigma_s: float = 0.0) -> Motion:
    """A copy of `motion` with expression and pose smoothed over time, each with its own Gaussian sigma (seconds).

    Eye closure is left alone: a blink lasts a few frames and smoothing would make it shallow and slow.
    """
    if expression_sigma_s < 0 or pose_sigma_s < 0:
        raise ValueError(f"smoothing sigmas must be >= 0 seconds, got expression {expression_sigma_s}, "
                         f"pose {pose_sigma_s}")
    return motion.replace(expression=smooth_tensor(motion.expression, expression_sigma_s * motion.fps),
                          pose=smooth_tensor(motion.pose, pose_sigma_s * motion.fps))


def scale_expression(motion: Motion, scale: float, about: torch.Tensor | None = None,
                     group: str = "all") -> Motion:
    """A copy of `motion` with expression moved `scale` times as far from `about` ([K], default zeros).

    group: "all" or, in the embedded-v1 space, "mouth" / "brows and cheeks" (other components untouched).
    """
    if group not in COMPONENT_GROUPS:
        raise ValueError(f"expression group: expected one of {tuple(COMPONENT_GROUPS)}, got {group!r}")
    if group != "all" and motion.space != SPACE_NAME:
        raise ValueError(f"expression group {group!r} is defined for space {SPACE_NAME!r}, but the motion is in "
                         f"{motion.space!r}; use 'all'")
    expression = motion.expression
    K = expression.shape[1]
    centre = torch.zeros(K) if about is None else about.detach().float().reshape(-1).cpu()
    if centre.shape[0] != K:
        raise ValueError(f"expression scale centre has {centre.shape[0]} coefficients but the motion has {K}; "
                         f"connect the face the motion was made for")
    centre = centre.to(expression.device, expression.dtype)
    scaled = centre + (expression - centre) * scale  # [T, K]
    indices = COMPONENT_GROUPS[group]
    if indices is not None:
        keep = torch.ones(K, dtype=torch.bool, device=expression.device)
        keep[list(indices)] = False
        scaled[:, keep] = expression[:, keep]
    return motion.replace(expression=scaled)
