"""Reference transfer through the real embedded face stack (skipped where the face stages are not installed)."""
import os

import numpy as np
import pytest
import torch

from comfyui_modit.modit.blink.reference import measure_reference

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORTRAIT = os.path.join(ROOT, "samples", "portrait.png")


def _face_stack_or_skip():
    try:
        from comfyui_modit.modit.face.analysis import default_stack
        default_stack()
    except (ImportError, FileNotFoundError, ValueError) as error:
        pytest.skip(f"embedded face stack not available here: {error}")


def test_roll_of_a_rotated_portrait_is_transferred_with_the_right_sign():
    _face_stack_or_skip()
    cv2 = pytest.importorskip("cv2")
    from PIL import Image

    image = np.asarray(Image.open(PORTRAIT).convert("RGB")).astype(np.float32) / 255
    H, W = image.shape[:2]
    angles = [0.0, 0.0, 0.0, 2.0, 4.0, 6.0, 6.0, 6.0]  # cv2 degrees: positive = counter-clockwise on screen
    frames = []
    for angle in angles:
        matrix = cv2.getRotationMatrix2D((W / 2, H / 2), angle, 1.0)
        frames.append(cv2.warpAffine(image, matrix, (W, H), borderMode=cv2.BORDER_REPLICATE))
    track = measure_reference(torch.from_numpy(np.stack(frames)))
    assert bool(track.found.all())
    roll = np.degrees(track.pose[:, 2].numpy())
    assert roll[0] == 0.0
    # Motion's roll is clockwise-positive, so a counter-clockwise turn reads negative.
    assert abs(roll[-1] + 6.0) < 1.0 and abs(roll[1]) < 0.5
    assert np.abs(np.degrees(track.pose[:, :2].numpy())).max() < 2.0, "an in-plane turn has no yaw or pitch"
    assert float(track.eye_closure.max()) < 0.3, "open eyes throughout"
