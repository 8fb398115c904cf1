"""The rasterised flow takes each cell from the front-most triangle that covers it; the flow over the face's
outline is smoothed, the flow of the features inside it is the mesh's own."""
import math

import torch

from comfyui_modit.modit.render.flow import CONTOUR_DEPTH, Grid, backward_flow, contour_smoothing, smooth_contour

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


def _folded_mesh(seed: int):
    """A 7 x 7 lattice of triangles, its points scattered so that triangles overlap (folds), each point with its
    own depth; some frames on whole pixels, so cell centres fall on edges and edges lie along rows."""
    g = torch.Generator().manual_seed(seed)
    n, spacing = 7, 6.0
    ys, xs = torch.meshgrid(torch.arange(n).float(), torch.arange(n).float(), indexing="ij")
    source = torch.stack([xs, ys], -1).reshape(-1, 2) * spacing + 3.0
    quads = [(i * n + j, i * n + j + 1, i * n + j + n, i * n + j + n + 1) for i in range(n - 1) for j in range(n - 1)]
    triangles = torch.tensor([t for a, b, c, d in quads for t in ((a, b, c), (b, d, c))])
    driven = source[None] + 2.5 * torch.randn(4, *source.shape, generator=g)
    driven[::2] = driven[::2].round()
    return driven, torch.randn(4, source.shape[0], generator=g), source, triangles


def test_each_cell_takes_the_front_most_triangle_that_covers_it():
    for seed in range(6):
        driven, depth, source, triangles = _folded_mesh(seed)
        grid = Grid(x0=-4, y0=-2, box_w=50, box_h=46, width=37 + seed, height=41 - seed)
        attribute = torch.rand(source.shape[0], generator=torch.Generator().manual_seed(seed))
        flow, value = backward_flow(driven, depth, source, attribute, triangles, grid)
        # Brute force, in float64: every cell centre against every triangle.
        sx, sy = grid.step
        cx = grid.x0 + (torch.arange(grid.width, dtype=torch.float64) + 0.5) * sx
        cy = grid.y0 + (torch.arange(grid.height, dtype=torch.float64) + 0.5) * sy
        py, px = torch.meshgrid(cy, cx, indexing="ij")
        for t in range(driven.shape[0]):
            a, b, c = (driven[t, triangles[:, k]].double()[:, None, None] for k in range(3))  # [F, 1, 1, 2]
            area = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
            l1 = ((px - a[..., 0]) * (c[..., 1] - a[..., 1]) - (py - a[..., 1]) * (c[..., 0] - a[..., 0])) / area
            l2 = ((b[..., 0] - a[..., 0]) * (py - a[..., 1]) - (b[..., 1] - a[..., 1]) * (px - a[..., 0])) / area
            l0 = 1 - l1 - l2
            weights = torch.stack([l0, l1, l2], -1)  # [F, h, w, 3]
            inside = (weights.amin(-1) >= -1e-4) & (area.abs() > 1e-9)
            z = (weights * depth[t, triangles].double()[:, None, None]).sum(-1)
            z = torch.where(inside, z, torch.full_like(z, float("inf")))
            front = z.argmin(0)  # [h, w]
            covered = inside.any(0)
            # Clear cases only: no edge within 1e-3 of the centre and no other triangle within 1e-6 of its depth.
            near_edge = ((weights.abs() < 1e-3).any(-1) & (weights.amin(-1) > -1e-3)).any(0)
            tie = (z - z.amin(0)).lt(1e-6).sum(0) > 1
            clear = ~near_edge & ~tie
            assert ((value[t] > 0) == covered)[clear].all()  # every attribute is above 0
            w = torch.gather(weights, 0, front[None, ..., None].expand(1, -1, -1, 3))[0]  # [h, w, 3]
            corners = triangles[front]  # [h, w, 3]
            expect_value = (w * attribute[corners].double()).sum(-1)
            expect_flow = (w[..., None] * source[corners].double()).sum(-2) - torch.stack([px, py], -1)
            sel = clear & covered
            assert sel.sum() > 100
            assert torch.allclose(value[t][sel].double(), expect_value[sel], atol=1e-4)
            assert torch.allclose(flow[t][sel].double(), expect_flow[sel], atol=1e-3)
            assert (flow[t][~covered & clear] == 0).all()
