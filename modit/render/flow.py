"""Dense backward flow from the driven mesh (paper §3.4.5, the renderer's optical flow), by rasterisation.

For every pixel of a low-resolution grid over the head's box, find the front-most driven triangle that covers
it and interpolate, with its barycentric coordinates, the triangle's SOURCE vertex positions: that is where the
pixel samples the source image (a piecewise-affine backward warp). A per-vertex attribute (the paste-back mask)
is interpolated the same way. Pixels no triangle covers keep zero flow.

Vectorised over the frames of a chunk and all triangles at once: each triangle enumerates the grid pixels of its
bounding box, a barycentric test keeps those inside, and a per-pixel depth minimum picks the visible one.

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
    nx = (x_hi - x_lo + 1).clamp_min(0).long()
    ny = (y_hi - y_lo + 1).clamp_min(0).long()
    count = torch.where(area.abs() > 1e-9, nx * ny, torch.zeros_like(nx)).reshape(-1)  # [T*F]
    owner = torch.repeat_interleave(torch.arange(T * F_, device=device), count)  # [C] candidate -> triangle
    start = torch.cumsum(count, 0) - count
    local = torch.arange(owner.shape[0], device=device) - start[owner]
    nx_flat = nx.reshape(-1)[owner]
    px = x_lo.reshape(-1)[owner] + (local % nx_flat)  # [C] float cell column
    py = y_lo.reshape(-1)[owner] + torch.div(local, nx_flat, rounding_mode="floor")
    flat = lambda t: t.reshape(-1)[owner]  # noqa: E731  per-candidate view of a [T, F] tensor
    a_x, a_y, b_x, b_y, c_x, c_y, ar = flat(ax), flat(ay), flat(bx), flat(by), flat(cx), flat(cy), flat(area)
    l1 = ((px - a_x) * (c_y - a_y) - (py - a_y) * (c_x - a_x)) / ar  # weight of vertex b
    l2 = ((b_x - a_x) * (py - a_y) - (b_y - a_y) * (px - a_x)) / ar  # weight of vertex c
    l0 = 1 - l1 - l2
    eps = -1e-4
    keep = (l0 >= eps) & (l1 >= eps) & (l2 >= eps)
    owner, px, py, l0, l1, l2 = owner[keep], px[keep], py[keep], l0[keep], l1[keep], l2[keep]
    frame = torch.div(owner, F_, rounding_mode="floor")
    tri = triangles[owner % F_]  # [C, 3]
    cells = grid.width * grid.height
    pixel = frame * cells + py.long() * grid.width + px.long()  # [C]
    z = l0 * depth[frame, tri[:, 0]] + l1 * depth[frame, tri[:, 1]] + l2 * depth[frame, tri[:, 2]]
    nearest = torch.full((T * cells,), float("inf"), device=device).scatter_reduce(0, pixel, z, "amin")
    front = z <= nearest[pixel]
    # Ties (shared edges, equal depth) resolve to the highest candidate: deterministic, and the flow agrees there.
    index = torch.arange(pixel.shape[0], device=device)
    chosen = torch.full((T * cells,), -1, dtype=torch.long, device=device)
    chosen = chosen.scatter_reduce(0, pixel[front], index[front], "amax")
    hit = chosen >= 0
    c = chosen[hit]
    w0, w1, w2, t3 = l0[c, None], l1[c, None], l2[c, None], tri[c]
    src = w0 * source[t3[:, 0]] + w1 * source[t3[:, 1]] + w2 * source[t3[:, 2]]  # [hits, 2] output px
    value_hit = w0[:, 0] * attribute[t3[:, 0]] + w1[:, 0] * attribute[t3[:, 1]] + w2[:, 0] * attribute[t3[:, 2]]
    centre_x = grid.x0 + (px[c] + 0.5) * sx
    centre_y = grid.y0 + (py[c] + 0.5) * sy
    flow = torch.zeros(T * cells, 2, device=device)
    flow[hit] = src - torch.stack([centre_x, centre_y], 1)
    value = torch.zeros(T * cells, device=device)
    value[hit] = value_hit
    return flow.reshape(T, grid.height, grid.width, 2), value.reshape(T, grid.height, grid.width)


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
