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
