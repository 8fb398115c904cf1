"""driven_landmarks: zero motion is the identity; expression and pose offsets move the mesh the named way."""
import math

import pytest
import torch

from comfyui_modit.modit.face import components
from comfyui_modit.modit.face import landmarks as lm
from comfyui_modit.modit.face.driving import driven_landmarks


def test_zero_motion_is_identity(astronaut_face):
    face = astronaut_face
    T = 5
    out = driven_landmarks(face, face.beta_0[None].repeat(T, 1), torch.zeros(T, 6))
    assert out.shape == (T, 468, 3) and out.dtype == torch.float32
    assert torch.equal(out, face.landmarks[None].expand(T, -1, -1)), "must be exact, not approximate"


def test_expression_and_pose_move_the_mesh(astronaut_face):
    face = astronaut_face
    expression = face.beta_0[None].repeat(4, 1)
    expression[1, components.JAW_OPEN] += 0.8
    pose = torch.zeros(4, 6)
    pose[2, 0] = math.radians(15)  # yaw: turn to the viewer's right
    pose[3, 3] = 0.1  # tx: a tenth of the crop to the right
    out = driven_landmarks(face, expression, pose)
    chin_drop = out[1, lm.CHIN, 1] - face.landmarks[lm.CHIN, 1]
    assert chin_drop > 0.1 * face.pose[5], "jaw_open drops the chin (in crop px, y down)"
    assert (out[1, lm.FOREHEAD_TOP] - face.landmarks[lm.FOREHEAD_TOP]).abs().max() < 1e-3
    nose_shift = out[2, lm.NOSE_TIP, 0] - face.landmarks[lm.NOSE_TIP, 0]
    assert nose_shift > 0.05 * face.pose[5], "a positive yaw offset turns the nose to the viewer's right"
    assert torch.allclose(out[3, :, 0] - face.landmarks[:, 0], torch.full((468,), 0.1 * face.crop_size), atol=1e-3)


def test_bad_shapes(astronaut_face):
    with pytest.raises(ValueError, match=r"\[T, K\] and pose \[T, 6\]"):
        driven_landmarks(astronaut_face, torch.zeros(3, 12), torch.zeros(4, 6))
    with pytest.raises(ValueError, match="coefficients"):
        driven_landmarks(astronaut_face, torch.zeros(3, 64), torch.zeros(3, 6))
