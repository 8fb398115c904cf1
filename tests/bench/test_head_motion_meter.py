"""The head-motion meter (bench/head_motion_meter.py) on constructed rotations: angles about the clip's typical pose,
a mirrored fit left out rather than read as a half turn."""
import sys

import numpy as np
import pytest

pytest.importorskip("cv2")

from ..bench_files import load_bench_module

for _name in ("gallery_meters", "gallery_video"):  # head_motion_meter imports them by name
    sys.modules.setdefault(_name, load_bench_module(_name))
meter = load_bench_module("head_motion_meter")


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rz(roll) @ Ry(yaw) @ Rx(pitch), degrees."""
    y, p, r = np.radians([yaw, pitch, roll])
    Rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    Ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    Rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


def test_angles_about_the_typical_pose_with_mirrored_fits_and_missing_faces_left_out():
    t = np.arange(40)
    truth = np.stack([6 * np.sin(t / 5), 3 * np.sin(t / 3), 2 * np.cos(t / 4)], axis=1)  # yaw, pitch, roll
    camera = _rotation(0, 180, 0)  # the head as solvePnP gives it: facing the camera
    rotations = np.stack([_rotation(*angles) @ camera for angles in truth])
    mirror = _rotation(0, 0, 180)
    rotations[0] = mirror @ rotations[0]  # the first frame's fit flipped: not the reference, and left out
    rotations[17] = mirror @ rotations[17]
    rotations[5] = np.nan  # no face found

    angles, misfits = meter.relative_angles(rotations)
    assert misfits == 2
    left_out = np.isnan(angles).any(axis=1)
    assert left_out[[0, 5, 17]].all() and left_out.sum() == 3
    kept = ~left_out
    # relative to one frame of the clip: the same motion, shifted by that frame's pose
    offset = (truth[kept] - angles[kept]).mean(axis=0)
    assert np.abs(truth[kept] - offset - angles[kept]).max() < 0.6, "small turns read as themselves"
    # to within the cross terms of composing turns of a few degrees
    assert meter.spread(angles) == pytest.approx(truth[kept].std(axis=0), abs=0.2)
