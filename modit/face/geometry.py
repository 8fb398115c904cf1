"""Head pose for paper §3.1 (the 3DMM pose, here a similarity fit of the mesh): canonical mesh, rotations, Procrustes.

Notation (crop pixels: x right, y down, z away from the camera):
    X         [468, 3] a mesh in the canonical frame (unposed, outer eye corners 1 unit apart, origin at the
              mesh centroid, x toward the subject's left, y down the face, z into the head)
    L         [468, 3] the same mesh posed in crop pixels
    L = s * R @ X + t,   R = Rz(roll) @ Ryaw(yaw) @ Rpitch(pitch),   t = (tx, ty, tz)

Angle signs follow modit/types.py POSE_CHANNELS: yaw > 0 turns the face to the viewer's right, pitch > 0 tilts the
chin up, roll > 0 turns the head clockwise on screen. With the face looking along -z, "turn right" is a rotation
of -yaw about +y and "chin up" a rotation of -pitch about +x (both in this y-down frame); roll is +roll about +z.
"""
import functools
import math

import torch

from ..checkpoints import bundled_path, load_checkpoint

CANONICAL_FILE = "face_canonical_mesh.safetensors"


@functools.lru_cache(maxsize=1)
def _canonical() -> tuple[torch.Tensor, torch.Tensor]:
    tensors, _ = load_checkpoint(bundled_path(CANONICAL_FILE))
    return tensors["canonical_mesh"].float(), tensors["mirror_index"].long()


def canonical_mesh() -> torch.Tensor:
    """The bundled canonical neutral mesh [468, 3] float32 (see derive_canonical.py for where it comes from)."""
    return _canonical()[0].clone()


def mirror_index() -> torch.Tensor:
    """[468] long: mirror_index[i] is the landmark that mirrors landmark i across the face's midline."""
    return _canonical()[1].clone()


def rotation_matrix(yaw: torch.Tensor, pitch: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] rotation R = Rz(roll) @ Ryaw(yaw) @ Rpitch(pitch) from [...] angles in radians."""
    zeros, ones = torch.zeros_like(yaw), torch.ones_like(yaw)
    cy, sy = torch.cos(yaw), torch.sin(yaw)
    cp, sp = torch.cos(pitch), torch.sin(pitch)
    cr, sr = torch.cos(roll), torch.sin(roll)
    r_yaw = torch.stack([cy, zeros, -sy, zeros, ones, zeros, sy, zeros, cy], -1).reshape(*yaw.shape, 3, 3)
    r_pitch = torch.stack([ones, zeros, zeros, zeros, cp, sp, zeros, -sp, cp], -1).reshape(*yaw.shape, 3, 3)
    r_roll = torch.stack([cr, -sr, zeros, sr, cr, zeros, zeros, zeros, ones], -1).reshape(*yaw.shape, 3, 3)
    return r_roll @ r_yaw @ r_pitch


def euler_angles(rotation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(yaw, pitch, roll) [...] that rotation_matrix maps back to rotation [..., 3, 3]."""
    # R[2] = (sy, -cy*sp, cy*cp) is untouched by the roll, so yaw and pitch come from the last row.
    yaw = torch.asin(rotation[..., 2, 0].clamp(-1, 1))
    pitch = torch.atan2(-rotation[..., 2, 1], rotation[..., 2, 2])
    # R[:, 0] without roll would be (cy, 0, sy): its x/y split is the roll.
    roll = torch.atan2(rotation[..., 1, 0], rotation[..., 0, 0])
    return yaw, pitch, roll


def procrustes(source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor):
    """Weighted similarity fit: (s, R, t) minimising sum_i w_i |s R source_i + t - target_i|^2 (Umeyama).

    source, target: [..., N, 3]; weights: [N]. Returns s [...], R [..., 3, 3] (det +1), t [..., 3].
    """
    w = (weights / weights.sum()).to(source)[:, None]  # [N, 1]
    mu_s = (w * source).sum(-2, keepdim=True)
    mu_t = (w * target).sum(-2, keepdim=True)
    a, b = source - mu_s, target - mu_t
    cov = (b * w).transpose(-1, -2) @ a  # [..., 3, 3] target x source
    U, S, Vh = torch.linalg.svd(cov)
    d = torch.sign(torch.linalg.det(U @ Vh))
    D = torch.ones_like(S)
    D[..., 2] = d
    R = U @ torch.diag_embed(D) @ Vh
    var_s = (w * a.pow(2)).sum((-1, -2))
    s = (S * D).sum(-1) / var_s
    t = mu_t.squeeze(-2) - s[..., None] * (R @ mu_s.transpose(-1, -2)).squeeze(-1)
    return s, R, t


def pose_vector(s: torch.Tensor, R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Face.pose layout [6]: yaw, pitch, roll (rad), tx, ty (crop px), scale (crop px per canonical unit)."""
    yaw, pitch, roll = euler_angles(R)
    return torch.stack([yaw, pitch, roll, t[0], t[1], s]).float()


def unpose(points: torch.Tensor, s: torch.Tensor, R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Canonical-frame mesh [N, 3] from a posed one: R^T (L - t) / s."""
    return ((points - t) @ R) / s


def degrees(radians: float) -> float:
    return radians * 180.0 / math.pi
