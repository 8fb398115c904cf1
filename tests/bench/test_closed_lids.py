"""The closed-lid meter (bench/closed_lids.py) on constructed cases: one figure per blink, lit lids read as lit."""
import sys

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from ..bench_files import load_bench_module
from ..test_gallery_meters import face_landmarks

sys.modules.setdefault("gallery_meters", load_bench_module("gallery_meters"))  # closed_lids imports it by name
closed_lids = load_bench_module("closed_lids")


def test_one_blink_per_run_of_closed_frames_at_its_most_closed_frame():
    openness = np.array([1.0, 1.0, 0.5, 0.2, 0.1, 0.3, 1.0, 1.0, 0.4, 0.95, 0.2, 1.0])
    closed = openness < closed_lids.CLOSED
    # The first run's most closed frame (4) after the last open one (1); the second run starts right after a
    # frame open enough (7, not 8 at 0.4); the third (frame 10) follows frame 9, open again.
    assert closed_lids.blinks(closed, openness) == [(4, 1), (8, 7), (10, 9)]
    assert closed_lids.blinks(closed[2:], openness[2:])[0] == (8 - 2, 7 - 2), "a run with no open frame before it counts not"


def test_a_lid_as_lit_as_the_skin_reads_one_and_a_dark_lid_reads_dark():
    points = face_landmarks()
    y = np.full((256, 256), 0.6, np.float32)
    assert closed_lids.lid_over_skin(y, points, points) == pytest.approx([1.0, 1.0], abs=1e-6)
    dark = y.copy()
    for eye in closed_lids.EYES:
        outline = points[eye].round().astype(np.int32)
        cv2.fillPoly(dark, [outline], 0.15)
    values = closed_lids.lid_over_skin(dark, points, points + [3.0, -2.0])  # the open frame a little apart
    assert all(value < 0.5 for value in values), values
