"""Driven face geometry (paper §3.4.5 renderer input): Motion expression + pose offsets -> mesh in crop pixels.

    X_t      = neutral + B @ expression_t                       (expression.decode, canonical frame)
    P(X, q)  = s_q * R_q @ X + t_q                              (pose q composed with the source pose)
    R_q      = rotation_matrix(d_yaw, d_pitch, d_roll) @ R_0,  s_q = s_0 * exp(d_tz),
    t_q      = t_0 + (d_tx, d_ty, 0) * crop_size
    L_t      = face.landmarks + P(X_t, q_t) - P(X(beta_0), 0)

face.pose's roll is the head roll on the source IMAGE; the crop is cut level, so the roll inside the crop is
face.pose[2] - face.extras["crop_roll"]. The last line carries the source's fit residual (what the 12 components cannot express, e.g. identity detail)
into every frame, so expression == beta_0 and pose == 0 give face.landmarks exactly.
"""
import torch

from ..types import Face
from . import expression
from .geometry import rotation_matrix


def _posed(face: Face, meshes: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """[T, 468, 3] crop px from canonical meshes [T, 468, 3] and pose offsets [T, 6] (POSE_CHANNELS)."""
    p0 = face.pose.double().to(meshes.device)
    pose = pose.double()
    R0 = rotation_matrix(p0[0], p0[1], p0[2] - face.extras.get("crop_roll", 0.0))  # roll within the level crop
    R = rotation_matrix(pose[:, 0], pose[:, 1], pose[:, 2]) @ R0  # [T, 3, 3]
    s = p0[5] * torch.exp(pose[:, 5])  # [T]
    t0 = torch.stack([p0[3], p0[4], p0.new_tensor(face.extras.get("pose_tz", 0.0))])
    zeros = torch.zeros_like(pose[:, 0])
    t = t0 + torch.stack([pose[:, 3], pose[:, 4], zeros], -1) * face.crop_size  # [T, 3]
    return s[:, None, None] * meshes.double() @ R.transpose(-1, -2) + t[:, None, :]


def driven_landmarks(face: Face, expression_coefficients: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """Driven mesh [T, 468, 3] float32 in crop px (same frame as face.landmarks).

    expression_coefficients: [T, K] absolute coefficients in face.space; pose: [T, 6] offsets from the source
    pose (modit/types.py POSE_CHANNELS). With expression == beta_0 and pose == 0 this returns face.landmarks.
    """
    if expression_coefficients.ndim != 2 or pose.ndim != 2 or pose.shape[-1] != 6 \
            or pose.shape[0] != expression_coefficients.shape[0]:
        raise ValueError(f"driven_landmarks: expected expression [T, K] and pose [T, 6], got "
                         f"{tuple(expression_coefficients.shape)} and {tuple(pose.shape)}")
    device = expression_coefficients.device
    B = expression.basis().to(device)
    if expression_coefficients.shape[1] != B.shape[0]:
        raise ValueError(f"driven_landmarks: expression has {expression_coefficients.shape[1]} coefficients, "
                         f"space {face.space} has {B.shape[0]}")
    T = expression_coefficients.shape[0]
    source = expression.decode(face.neutral_mesh.to(device), face.beta_0.to(device)[None], B).double()  # [1, 468, 3]
    # Expression change as B @ (e - beta_0): exactly zero for e == beta_0 (no rounding of neutral + B beta).
    change = torch.einsum("tk,knc->tnc", (expression_coefficients.double() - face.beta_0.to(device).double()),
                          B.double())
    meshes = torch.cat([source + change, source.expand(T, -1, -1)])  # [2T, 468, 3]
    poses = torch.cat([pose.to(device).double(), torch.zeros(T, 6, dtype=torch.float64, device=device)])
    posed = _posed(face, meshes, poses)  # one batched call, so both halves round alike
    return (face.landmarks.to(device).double() + (posed[:T] - posed[T:])).float()
