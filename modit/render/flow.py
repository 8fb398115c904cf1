"""Dense backward flow from the driven mesh (paper §3.4.5, the renderer's optical flow), by rasterisation.

For every pixel of a low-resolution grid over the head's box, find the front-most driven triangle that covers
it and interpolate, with its barycentric coordinates, the triangle's SOURCE vertex positions: that is where the
pixel samples the source image (a piecewise-affine backward warp). A per-vertex attribute (the paste-back mask)
is interpolated the same way. Pixels no triangle covers keep zero flow.

Vectorised over the frames of a chunk and all triangles at once: each triangle enumerates the rows of its bounding
box and, on each row, the cells of its span (about half the box's cells); a barycentric test keeps those inside, and
a per-pixel depth minimum picks the visible one.

Over the face's outline the flow is then smoothed (smooth_contour). The mesh's outline is not the head's silhouette,
and a turning head moves its points differently from the rows inside it and from the anchor ring outside it: each
long triangle there takes its own affine map, so a sharp edge of the source that crosses them (the cheek against the
background, an ear) comes out kinked into stair-steps or torn into two (a ghost cheek beside the real one), and where
the far cheek folds under the face the flow jumps and draws a straight hard line. Smoothed there, the outline bends as
one piece; the features well inside it keep their exact flow.
"""
from dataclasses import dataclass

import torch

from .overlays import gaussian_blur, polygon_distance, smoothstep

CONTOUR_SIGMA = 0.05  # face widths: the Gaussian that smooths the flow over the face's outline and beyond
CONTOUR_DEPTH = 0.15  # face widths inside the outline from where the flow is the mesh's own (eyes, nose, mouth)

INSIDE = -1e-4  # barycentric weight from which a cell centre counts as inside a triangle (its edges shared)
SPAN_MARGIN = 0.05  # cells: a row's span is widened by this before the exact inside test


@dataclass(frozen=True)
class Grid:
    """A grid of `width` x `height` cells over the output-pixel box [x0, x0 + box_w) x [y0, y0 + box_h)."""

    x0: int
    y0: int
    box_w: int
    box_h: int
    width: int
    height: int

    @property
    def step(self) -> tuple[float, float]:
        return self.box_w / self.width, self.box_h / self.height


def backward_flow(driven: torch.Tensor, depth: torch.Tensor, source: torch.Tensor, attribute: torch.Tensor,
                  triangles: torch.Tensor, grid: Grid) -> tuple[torch.Tensor, torch.Tensor]:
    """Rasterise the driven mesh on `grid`.

    driven: [T, V, 2] output px; depth: [T, V] (smaller = nearer); source: [V, 2] output px;
    attribute: [V] per-vertex value; triangles: [F, 3] long.
    Returns (flow [T, h, w, 2] float32: source position minus the cell centre, in output px;
             value [T, h, w] float32: the interpolated attribute, 0 where uncovered).
    """
    T, V, _ = driven.shape
    F_ = triangles.shape[0]
    device = driven.device
    sx, sy = grid.step
    # Grid units: cell (i, j) has its centre at integer coordinates (i, j).
    gx = (driven[..., 0] - grid.x0) / sx - 0.5  # [T, V]
    gy = (driven[..., 1] - grid.y0) / sy - 0.5
    ax, bx, cx = (gx[:, triangles[:, k]] for k in range(3))  # [T, F] each
    ay, by, cy = (gy[:, triangles[:, k]] for k in range(3))
    area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)  # [T, F] twice the signed area
    x_lo = torch.minimum(torch.minimum(ax, bx), cx).ceil().clamp(0, grid.width - 1)
    x_hi = torch.maximum(torch.maximum(ax, bx), cx).floor().clamp(-1, grid.width - 1)
    y_lo = torch.minimum(torch.minimum(ay, by), cy).ceil().clamp(0, grid.height - 1)
    y_hi = torch.maximum(torch.maximum(ay, by), cy).floor().clamp(-1, grid.height - 1)
    ny = (y_hi - y_lo + 1).clamp_min(0).long()
    rows = torch.where(area.abs() > 1e-9, ny, torch.zeros_like(ny)).reshape(-1)  # [T*F]
    # Every row of every triangle's box, then the cells of the row's span: about half the box's cells.
    owner, py = _expand(rows, y_lo.reshape(-1))  # [R] row -> triangle (frame * F + face), row
    a_x, a_y, b_x, b_y, c_x, c_y, ar = (_take(t, owner) for t in (ax, ay, bx, by, cx, cy, area))
    start, stop = _row_span(a_x, a_y, b_x, b_y, c_x, c_y, ar, py)
    start, stop = torch.maximum(start, _take(x_lo, owner)), torch.minimum(stop, _take(x_hi, owner))
    row, px = _expand((stop - start + 1).clamp_min(0).long(), start)  # [C] candidate -> row, cell column
    # The barycentric weights, with row-wise factors gathered per cell (the same float operations per cell).
    from_a, ar_row = px - _take(a_x, row), _take(ar, row)  # each only once per cell
    l1 = (from_a * _take(c_y - a_y, row) - _take((py - a_y) * (c_x - a_x), row)) / ar_row
    l2 = (_take((b_x - a_x) * (py - a_y), row) - _take(b_y - a_y, row) * from_a) / ar_row
    l0 = 1 - l1 - l2
    keep = ((l0 >= INSIDE) & (l1 >= INSIDE) & (l2 >= INSIDE)).nonzero()[:, 0]
    row, px, l0, l1, l2 = (_take(t, keep) for t in (row, px, l0, l1, l2))
    owner, py = _take(owner, row), _take(py, row)
    frame = torch.div(owner, F_, rounding_mode="floor")
    tri = triangles.index_select(0, owner - frame * F_)  # [C, 3]
    cells = grid.width * grid.height
    pixel = frame * cells + py.long() * grid.width + px.long()  # [C]
    at_vertex = lambda values, k: _take(values, frame * V + tri[:, k])  # noqa: E731  [T, V] at a corner
    z = l0 * at_vertex(depth, 0) + l1 * at_vertex(depth, 1) + l2 * at_vertex(depth, 2)
    nearest = torch.full((T * cells,), float("inf"), device=device).scatter_reduce(0, pixel, z, "amin")
    front = (z <= _take(nearest, pixel)).nonzero()[:, 0]
    # Ties (shared edges, equal depth) resolve to the highest candidate: deterministic, and the flow agrees there.
    chosen = torch.full((T * cells,), -1, dtype=torch.long, device=device)
    chosen = chosen.scatter_reduce(0, _take(pixel, front), front, "amax")
    hit = (chosen >= 0).nonzero()[:, 0]
    c = _take(chosen, hit)
    w0, w1, w2, t3 = _take(l0, c)[:, None], _take(l1, c)[:, None], _take(l2, c)[:, None], tri.index_select(0, c)
    corner = lambda values, k: values.index_select(0, t3[:, k])  # noqa: E731  per-vertex values at a corner
    src = w0 * corner(source, 0) + w1 * corner(source, 1) + w2 * corner(source, 2)  # [hits, 2] output px
    value_hit = w0[:, 0] * corner(attribute, 0) + w1[:, 0] * corner(attribute, 1) + w2[:, 0] * corner(attribute, 2)
    centre_x = grid.x0 + (_take(px, c) + 0.5) * sx
    centre_y = grid.y0 + (_take(py, c) + 0.5) * sy
    flow = torch.zeros(T * cells, 2, device=device)
    flow.index_copy_(0, hit, src - torch.stack([centre_x, centre_y], 1))
    value = torch.zeros(T * cells, device=device)
    value.index_copy_(0, hit, value_hit)
    return flow.reshape(T, grid.height, grid.width, 2), value.reshape(T, grid.height, grid.width)


def _take(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values.reshape(-1)[index], by index_select (on a CPU about twice as fast as indexing with a tensor)."""
    return values.reshape(-1).index_select(0, index)


def _expand(counts: torch.Tensor, first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Enumerate counts[i] consecutive values from first[i] for every i: (index i [N], value [N])."""
    index = torch.repeat_interleave(torch.arange(counts.shape[0], device=counts.device), counts)
    begin = torch.cumsum(counts, 0) - counts
    local = torch.arange(index.shape[0], device=counts.device) - begin[index]
    return index, _take(first, index) + local


def _row_span(a_x, a_y, b_x, b_y, c_x, c_y, ar, py) -> tuple[torch.Tensor, torch.Tensor]:
    """The first and last cell column [R] (floats, possibly empty: last < first) whose centre on row py [R] may be
    inside the triangle: each barycentric weight is affine along the row, and each bounds the span on one side.

    Computed in float64 (on the CPU for a device without it, MPS) and widened by SPAN_MARGIN, so the span holds every
    cell that backward_flow's exact test (float32, INSIDE) keeps; cells it adds are dropped by that test.
    """
    device = py.device
    exact = torch.device("cpu") if device.type == "mps" else device
    a_x, a_y, b_x, b_y, c_x, c_y, ar, py = (t.to(exact, torch.float64) for t in (a_x, a_y, b_x, b_y, c_x, c_y, ar, py))
    # l1 = s1 * x + q1, l2 = s2 * x + q2, l0 = 1 - l1 - l2 (the same weights as the exact test).
    s1, q1 = (c_y - a_y) / ar, (-a_x * (c_y - a_y) - (py - a_y) * (c_x - a_x)) / ar
    s2, q2 = -(b_y - a_y) / ar, ((b_x - a_x) * (py - a_y) + (b_y - a_y) * a_x) / ar
    lower = torch.full_like(py, -float("inf"))
    upper = torch.full_like(py, float("inf"))
    for s, q in ((s1, q1), (s2, q2), (-s1 - s2, 1 - q1 - q2)):
        bound = (INSIDE - q) / torch.where(s == 0, torch.ones_like(s), s)  # where the weight reaches INSIDE
        lower = torch.where(s > 0, torch.maximum(lower, bound), lower)
        upper = torch.where(s < 0, torch.minimum(upper, bound), upper)
        upper = torch.where((s == 0) & (q < INSIDE - SPAN_MARGIN), torch.full_like(upper, -float("inf")), upper)
    start = (lower - SPAN_MARGIN).clamp(-1.0, 1e9).ceil()
    stop = (upper + SPAN_MARGIN).clamp(-2.0, 1e9).floor()
    return start.to(device, torch.float32), stop.to(device, torch.float32)


@dataclass(frozen=True)
class ContourSmoothing:
    """Where and how much the flow over the face's outline is smoothed, on a grid."""

    weight: torch.Tensor  # [1, 1, h, w]: 0 from CONTOUR_DEPTH inside the outline inward, 1 on it and outside it
    sigma: float  # grid cells


def contour_smoothing(grid: Grid, outline: torch.Tensor) -> ContourSmoothing:
    """The smoothing for a face whose source outline (the face oval, in order) is outline [E, 2] output px."""
    sx, sy = grid.step
    xs = grid.x0 + (torch.arange(grid.width, device=outline.device) + 0.5) * sx
    ys = grid.y0 + (torch.arange(grid.height, device=outline.device) + 0.5) * sy
    cells = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1)  # [h, w, 2] cell centres, output px
    face_width = float(outline[:, 0].max() - outline[:, 0].min())
    inside = polygon_distance(outline[None].float(), cells)[0]  # px, positive inside
    weight = smoothstep(CONTOUR_DEPTH * face_width, CONTOUR_DEPTH * face_width / 3, inside)
    return ContourSmoothing(weight[None, None], CONTOUR_SIGMA * face_width / (0.5 * (sx + sy)))


def smooth_contour(flow: torch.Tensor, smoothing: ContourSmoothing) -> torch.Tensor:
    """flow [T, h, w, 2] on the smoothing's grid, with the outline's band smoothed. Zero flow (no motion) stays
    exactly zero."""
    field = flow.permute(0, 3, 1, 2)
    field = field + smoothing.weight * (gaussian_blur(field, smoothing.sigma) - field)
    return field.permute(0, 2, 3, 1)
