"""The flow over the face's outline is smoothed; the flow of the features inside it is the mesh's own."""
import math

import torch

from comfyui_modit.modit.render.flow import CONTOUR_DEPTH, Grid, contour_smoothing, smooth_contour

GRID = Grid(x0=0, y0=0, box_w=200, box_h=200, width=100, height=100)  # 2 px cells
CENTRE, RADIUS = 100.0, 60.0  # a round face 120 px wide in the middle of the box


def _outline(points: int = 36) -> torch.Tensor:
    angle = torch.arange(points) * 2 * math.pi / points
    return torch.stack([CENTRE + RADIUS * angle.cos(), CENTRE + RADIUS * angle.sin()], -1)


def _radius() -> torch.Tensor:
    """[h, w] each cell centre's distance from the face centre, px."""
    xs = (torch.arange(GRID.width) + 0.5) * GRID.step[0]
    ys = (torch.arange(GRID.height) + 0.5) * GRID.step[1]
    x, y = torch.meshgrid(xs, ys, indexing="xy")
    return ((x - CENTRE) ** 2 + (y - CENTRE) ** 2).sqrt()


def test_the_smoothing_covers_the_outline_and_spares_the_features_inside_it():
    weight = contour_smoothing(GRID, _outline()).weight[0, 0]
    r = _radius()
    deep = r < RADIUS - 1.1 * CONTOUR_DEPTH * 2 * RADIUS  # further inside than CONTOUR_DEPTH face widths
    assert deep.any() and (weight[deep] == 0).all()
    assert (weight[r > RADIUS + 2] == 1).all()  # on and beyond the outline: fully smoothed
    assert (weight[(r > RADIUS - 4) & (r < RADIUS + 2)] > 0.9).all()


def test_no_motion_stays_exactly_no_motion():
    smoothing = contour_smoothing(GRID, _outline())
    flow = torch.zeros(2, GRID.height, GRID.width, 2)
    assert torch.equal(smooth_contour(flow, smoothing), flow)


def test_a_flow_torn_at_the_outline_bends_as_one_piece_and_the_inner_face_keeps_its_own():
    # A turned head: the face inside its outline moves 8 px sideways, the band outside it does not, so at the
    # outline neighbouring cells sampled the source 8 px apart (a torn or stair-stepped cheek).
    smoothing = contour_smoothing(GRID, _outline())
    r = _radius()
    flow = torch.zeros(1, GRID.height, GRID.width, 2)
    flow[0, ..., 0] = 8.0 * (r < RADIUS)
    smoothed = smooth_contour(flow, smoothing)
    jump = lambda f: (f[0, :, 1:, 0] - f[0, :, :-1, 0]).abs().max()  # noqa: E731  largest step between neighbours
    assert jump(flow) == 8.0
    assert jump(smoothed) < 0.25 * jump(flow)
    deep = smoothing.weight[0, 0] == 0
    assert torch.equal(smoothed[0][deep], flow[0][deep])
