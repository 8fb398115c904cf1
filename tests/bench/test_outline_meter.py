"""The outline meter (bench/outline_meter.py) on constructed faces: a jaw line torn into a zigzag reads rougher than
the same jaw line drawn smooth; texture away from the jaw line does not count."""
import sys

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from ..bench_files import load_bench_module

for _name in ("gallery_meters", "_pack"):  # outline_meter imports them by name
    sys.modules.setdefault(_name, load_bench_module(_name))
meter = load_bench_module("outline_meter")

SIZE = 256


def _landmarks() -> np.ndarray:
    """68 points: a round jaw line (0-16) and eyes 64 px apart (the meter's own scale), the rest at the centre."""
    points = np.full((68, 2), SIZE / 2, np.float64)
    angle = np.linspace(np.pi * 0.05, np.pi * 0.95, 17)
    points[:17] = np.stack([SIZE / 2 - 90 * np.cos(angle), SIZE / 2 - 20 + 90 * np.sin(angle)], 1)
    points[36:42] = (SIZE / 2 - 32, SIZE / 2 - 40)
    points[42:48] = (SIZE / 2 + 32, SIZE / 2 - 40)
    return points


def _face(torn: float = 0.0, speckle: bool = False) -> np.ndarray:
    """A light face on a dark background, its lower edge along the jaw line, that edge torn into a zigzag of
    `torn` px either side of it."""
    image = np.full((SIZE, SIZE, 3), 40, np.uint8)
    jaw = _landmarks()[:17]
    along = np.linspace(0, 16, 97)
    edge = np.stack([np.interp(along, np.arange(17), jaw[:, k]) for k in range(2)], 1)
    edge[1::2] += torn * (edge[1::2] - (SIZE / 2, SIZE / 2 - 20)) / 90  # every other point pushed outward
    top = np.array([[edge[-1][0], 20], [edge[0][0], 20]])
    cv2.fillPoly(image, [np.concatenate([edge, top]).round().astype(np.int32)], (200, 170, 150))
    image = cv2.GaussianBlur(image, (0, 0), 0.7)
    if speckle:  # texture far from the jaw line (the forehead)
        rng = np.random.default_rng(0)
        image[30:60, 100:160] = rng.integers(0, 255, (30, 60, 3), dtype=np.uint8)
    return image


def test_a_torn_jaw_reads_rougher_the_more_it_is_torn():
    points = _landmarks()
    smooth, torn, more = (meter.roughness(_face(torn=px), points) for px in (0, 2, 4))
    assert smooth < torn < more
    assert more > 1.5 * smooth


def test_texture_away_from_the_outline_does_not_count():
    points = _landmarks()
    assert meter.roughness(_face(speckle=True), points) == meter.roughness(_face(), points)
