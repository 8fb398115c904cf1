"""The open-mouth meter's clip weighting (bench/mouth_interior.py --every-clip): a clip counts in an opening bin
only where it opens that far on enough frames, and there by its own median, so a speaker with many open frames
weighs no more than one with a few."""
import sys

import numpy as np
import pytest

pytest.importorskip("cv2")

from ..bench_files import load_bench_module

sys.modules.setdefault("gallery_meters", load_bench_module("gallery_meters"))  # mouth_interior imports it by name
meter = load_bench_module("mouth_interior")


def _rows(openings, interior):
    """measure()'s rows: opening, interior over skin, the profile down the opening, the lip edges, then the interior's
    10th and 90th percentiles (here half and 1.5x its median)."""
    rows = np.zeros((len(openings), meter.COLUMNS))
    rows[:, 0] = openings
    rows[:, 1] = interior
    rows[:, 2:2 + len(meter.DOWN)] = np.asarray(interior)[:, None]
    rows[:, -2:] = np.asarray(interior)[:, None] * [0.5, 1.5]
    return rows


def test_a_clip_counts_in_a_bin_by_its_median_once_it_opens_that_far_often_enough():
    narrow, medium = meter.BINS[0], meter.BINS[1]
    few = meter.MIN_FRAMES - 1
    openings = [0.1] * 5 + [0.2] * few
    medians = meter.clip_medians(_rows(openings, [0.4, 0.5, 0.6, 0.9, 0.95] + [1.0] * few))
    assert set(medians) == {narrow}, "too few medium frames to count"
    assert medians[narrow][0] == pytest.approx(0.6) and len(medians[narrow]) == 3 + len(meter.DOWN)
    assert medians[narrow][-2:] == pytest.approx([0.3, 0.9]), "the dark part and the teeth's edge, each its median"
    many = meter.clip_medians(_rows([0.2] * 40, [0.3] * 40))
    assert many[medium][0] == pytest.approx(0.3), "forty frames make one median, not forty votes"


def test_the_lit_tongue_is_read_from_the_lit_saturated_pixels_of_the_openings_lower_half():
    """lit_tongue: in the lower half of the inner lips, the pink pixels' colour per unit luma and luma over the skin's,
    neither the teeth above them (grey-white) nor the throat (dark) nor anything outside the lips."""
    frame = np.full((100, 100, 3), 200, np.uint8)  # outside the lips: lit and grey
    points = np.zeros((68, 2))
    points[60:68] = [(30, 50), (40, 40), (50, 38), (60, 40), (70, 50), (60, 62), (50, 64), (40, 62)]
    frame[36:50] = (235, 232, 228)  # the upper half: teeth
    frame[50:66] = (200, 120, 120)  # the lower half: tongue
    frame[50:54, 45:55] = (30, 15, 15)  # and a patch of throat
    pink = np.array([200, 120, 120]) / 255
    luma = pink @ [0.299, 0.587, 0.114]
    colour = meter.lit_tongue(frame, meter.luminance(frame), points, skin=0.7)
    assert colour[:3] == pytest.approx(pink / luma, abs=0.02)
    assert colour[3] == pytest.approx(luma / 0.7, abs=0.02)
    frame[50:66] = (235, 232, 228)  # teeth all the way down: no tongue
    assert np.isnan(meter.lit_tongue(frame, meter.luminance(frame), points, skin=0.7)).all()
