"""Eyeballs and lids painted over the warped face, and the geometry the mouth interior shares (paper §3.4.5).

The warp alone squashes what it cannot know: the inside of a mouth that opens wider than in the source, and the
eye under a closing lid. Both are painted in small boxes at output resolution with antialiased masks of the
opening between two curves (upper and lower lip or lid, measured across the opening in a frame aligned with the
corners), so their edges move smoothly with sub-pixel motion:
- eyeballs: the source eye moved only with the head (one affine per eye), shown inside the driven lid opening,
  so a closing lid covers the iris instead of squashing it; the lowered lid itself is painted as skin from above
  the crease with its lashes along its margin, and the raised lower lid as skin from below it;
- mouth: the frame aligned with the corners and the inner-lip polygon's signed distance used by mouth.py, and the
  opening gain with which a Wav2Lip reference's mouth is shown where the driven mouth opens beyond the source's.
Pixel (j, i) of the output has its centre at (j + 0.5, i + 0.5); boxes are (x0, y0, w, h) in output pixels.
"""
import math

import torch
import torch.nn.functional as F

# polygon_distance's working set per [T, edges, pixels] temporary: a CPU is fastest with blocks that stay in its
# caches (~0.5 MB), a GPU with few large ops (~16 MB).
POLYGON_BLOCK_ELEMENTS = {"cpu": 1 << 17, "gpu": 1 << 22}


LUMA = (0.299, 0.587, 0.114)  # Rec. 601 weights: a colour's luma is colour @ luma_weights(device)


def luma_weights(device) -> torch.Tensor:
    return torch.tensor(LUMA, device=device)


def saturation(rgb: torch.Tensor) -> torch.Tensor:
    """Saturation of colours [..., 3]: (max - min) / max of the channels, 0 for grey."""
    return (rgb.amax(-1) - rgb.amin(-1)) / rgb.amax(-1).clamp_min(0.05)


def smoothstep(lo: float, hi: float, x: torch.Tensor) -> torch.Tensor:
    t = ((x - lo) / (hi - lo)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def union_box(points: torch.Tensor, pad: float, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Integer box (x0, y0, w, h) around points [..., 2] plus pad, clipped to the image; None if empty."""
    flat = points.reshape(-1, 2)
    x0 = max(int(flat[:, 0].min().floor().item() - pad), 0)
    y0 = max(int(flat[:, 1].min().floor().item() - pad), 0)
    x1 = min(int(flat[:, 0].max().ceil().item() + pad), width)
    y1 = min(int(flat[:, 1].max().ceil().item() + pad), height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def pixel_centres(box: tuple[int, int, int, int], device) -> torch.Tensor:
    """[h, w, 2] output-pixel centres of a box."""
    x0, y0, w, h = box
    ys = torch.arange(h, device=device, dtype=torch.float32) + y0 + 0.5
    xs = torch.arange(w, device=device, dtype=torch.float32) + x0 + 0.5
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1)


def between_curves_alpha(upper: torch.Tensor, lower: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Antialiased coverage of the opening between two curves that share their end points (lips, eyelids).

    upper, lower: [T, P, 2] corner to corner; points: [h, w, 2]. Returns [T, h, w] in 0..1 with a 1 px ramp
    measured across the opening, so the edge follows sub-pixel motion smoothly. Cheaper than a polygon test.
    """
    return opening_alpha(*mouth_coordinates(upper, lower, points))


def opening_alpha(u: torch.Tensor, depth: torch.Tensor, height: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """between_curves_alpha from precomputed mouth_coordinates."""
    along = u * width[:, None, None]
    inside_lips = (depth + 0.5).clamp(0, 1) * (height - depth + 0.5).clamp(0, 1)
    inside_ends = (along + 0.5).clamp(0, 1) * (width[:, None, None] - along + 0.5).clamp(0, 1)
    return inside_lips * inside_ends * height.clamp(0, 1)  # a closed (zero-height) opening covers nothing


def polygon_distance(ring: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Signed distance (px, positive inside) from pixels to closed polygons.

    ring: [T, E, 2] vertices in order (the last joins the first); points: [h, w, 2]. Returns [T, h, w]. Unlike
    a frame aligned with the corners, this follows a contour that bulges out beyond its corners (a wide-open
    mouth's inner lips). Edges go in blocks of up to POLYGON_BLOCK_ELEMENTS // (T * h * w), so the working set
    stays bounded while a GPU gets a few large ops rather than a few per edge.
    """
    T, E, _ = ring.shape
    h, w = points.shape[:2]
    x, y = points[..., 0], points[..., 1]
    if torch.equal(x, x[:1].expand(h, w)) and torch.equal(y, y[:, :1].expand(h, w)):
        # A regular grid (pixel or cell centres): what depends on a pixel's y alone (which edges a row's ray crosses,
        # and where) is computed once per row, what depends on x alone once per column.
        px, py = x[:1].reshape(1, 1, 1, w), y[:, :1].reshape(1, 1, h, 1)
    else:
        px, py = x.reshape(1, 1, 1, -1), y.reshape(1, 1, 1, -1)  # [1, 1, 1, N]
    shape = (T, py.shape[2], px.shape[3])
    nearest = torch.full(shape, float("inf"), device=points.device)
    crossings = torch.zeros(shape, dtype=torch.int32, device=points.device)
    elements = POLYGON_BLOCK_ELEMENTS["cpu" if points.device.type == "cpu" else "gpu"]
    block = max(1, min(E, elements // max(T * h * w, 1)))
    following = torch.roll(ring, -1, dims=1)  # each edge's end: the next vertex, the last joining the first
    for first in range(0, E, block):
        a = ring[:, first:first + block, :, None, None]  # [T, B, 2, 1, 1]
        b = following[:, first:first + block, :, None, None]
        ax, ay, bx, by = a[:, :, 0], a[:, :, 1], b[:, :, 0], b[:, :, 1]  # [T, B, 1, 1]
        dx, dy = bx - ax, by - ay
        rx, ry = px - ax, py - ay  # [T, B, 1 or h, w or 1]
        t = ((rx * dx + ry * dy) / (dx * dx + dy * dy).clamp_min(1e-9)).clamp(0, 1)
        nearest = torch.minimum(nearest, ((rx - t * dx) ** 2 + (ry - t * dy) ** 2).amin(dim=1))
        # Even-odd rule: a ray toward +x from the pixel crosses the edges an odd number of times when inside.
        straddles = (ay > py) != (by > py)
        x_cross = ax + ry / torch.where(dy == 0, torch.ones_like(dy), dy) * dx
        crossings += (straddles & (px < x_cross)).sum(dim=1, dtype=torch.int32)
    distance = nearest.sqrt()
    return torch.where(crossings % 2 == 1, distance, -distance).reshape(T, h, w)


def fit_affine(driven: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Least-squares affine [T, 3, 2] with source ~ [driven, 1] @ A; driven, source: [T, N, 2]."""
    ones = torch.ones_like(driven[..., :1])
    X = torch.cat([driven, ones], -1).double()
    return torch.linalg.lstsq(X, source.double().expand_as(driven)).solution.float()


def gaussian_kernel(sigma: float, truncate: float, dtype: torch.dtype, device) -> tuple[int, torch.Tensor]:
    """(radius, weights [2 * radius + 1] summing to 1) of a Gaussian of `sigma` px cut at `truncate` sigmas."""
    radius = max(1, int(math.ceil(truncate * sigma)))
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return radius, kernel / kernel.sum()


def gaussian_blur(images: torch.Tensor, sigma: float, truncate: float = 3.0) -> torch.Tensor:
    """images [N, C, H, W] blurred by a Gaussian of `sigma` px (separable, edges replicated, cut at `truncate`
    sigmas); sigma <= 0: unchanged."""
    if sigma <= 0:
        return images
    radius, kernel = gaussian_kernel(sigma, truncate, images.dtype, images.device)
    C = images.shape[1]
    out = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(C, 1, 1, -1).contiguous(), groups=C)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(C, 1, -1, 1).contiguous(), groups=C)


def gaussian_blur_each(images: torch.Tensor, sigma: float, truncate: float = 3.0) -> torch.Tensor:
    """gaussian_blur, summed tap by tap in the same order for every pixel of every image: a frame's result does not
    depend on the batch it came in (a batched convolution may sum in another order for another chunk length), so a
    chunk of frames is blurred in one pass instead of one convolution per frame."""
    if sigma <= 0:
        return images
    radius, taps = gaussian_kernel(sigma, truncate, torch.float64, torch.device("cpu"))
    taps = taps.tolist()
    H, W = images.shape[-2:]
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    rows = padded[..., :, 0:W] * taps[0]
    for k in range(1, len(taps)):
        rows.add_(padded[..., :, k:k + W], alpha=taps[k])
    out = rows[..., 0:H, :] * taps[0]
    for k in range(1, len(taps)):
        out.add_(rows[..., k:k + H, :], alpha=taps[k])
    return out


def sample(image: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of image [B or 1, C, H, W] at output-pixel positions [T, h, w, 2] -> [T, h, w, C]."""
    return sample_normalised(image, normalised(positions, *image.shape[-2:]))


def normalised(positions: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pixel positions [..., 2] in an image of height x width, in grid_sample's units (-1 and 1: its outer edges)."""
    return torch.stack([positions[..., 0] * (2 / width) - 1, positions[..., 1] * (2 / height) - 1], -1)


def sample_normalised(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """sample() at positions [T, h, w, 2] given in grid_sample's units (-1 and 1: the image's outer edges)."""
    if image.shape[0] != grid.shape[0]:
        image = image.expand(grid.shape[0], -1, -1, -1)
    out = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.permute(0, 2, 3, 1)


# A moving head samples the photo between its pixels, where bilinear weights average neighbours: half a pixel off
# on both axes, they kept 0.47-0.83 of seven gallery portraits' fine detail (mean |Laplacian| of luma, at 512 px),
# and the detail came and went as the head moved. Sampled bilinearly from a bicubic upsampling by 3, they keep
# 0.67-0.96 (bicubic sampling itself 0.70-0.97, at twice the cost per frame). Odd, so that every pixel's centre
# stays a sample: an unmoved face is the photo. A head box so large that its upsampling would pass
# SUPERSAMPLED_PIXELS (about 400 MB of float32 RGB: heads over about 1900 px across) is sampled as it is.
SUPERSAMPLING = 3
SUPERSAMPLED_PIXELS = 1 << 25


class Supersampled:
    """Part of an image, upsampled SUPERSAMPLING times (bicubic), for sharp samples at bilinear cost."""

    def __init__(self, image: torch.Tensor, box: tuple[int, int, int, int], margin: int = 4):
        """image [1, C, H, W]; box (x0, y0, w, h) output px: where the samples will fall, give or take margin px."""
        H, W = image.shape[-2:]
        x0, y0, w, h = box
        self.x0, self.y0 = max(x0 - margin, 0), max(y0 - margin, 0)
        x1, y1 = min(x0 + w + margin, W), min(y0 + h + margin, H)
        crop = image[..., self.y0:y1, self.x0:x1]
        fits = crop.shape[-1] * crop.shape[-2] * SUPERSAMPLING ** 2 <= SUPERSAMPLED_PIXELS
        self.factor = SUPERSAMPLING if fits else 1
        self.image = crop if self.factor == 1 else F.interpolate(
            crop, scale_factor=self.factor, mode="bicubic", align_corners=False).clamp(0, 1).contiguous()
        H, W = self.image.shape[-2:]
        # What a move of one output px is in grid()'s units: a flow over fixed positions is one multiply-add.
        self.scale = torch.tensor([2 * self.factor / W, 2 * self.factor / H], device=image.device)

    def grid(self, positions: torch.Tensor) -> torch.Tensor:
        """Output-pixel positions [..., 2] in sample_normalised's units for this part."""
        origin = torch.tensor([self.x0, self.y0], dtype=positions.dtype, device=positions.device)
        return normalised((positions - origin) * self.factor, *self.image.shape[-2:])

    def sample(self, positions: torch.Tensor) -> torch.Tensor:
        """Samples at output-pixel positions [T, h, w, 2] -> [T, h, w, C] (outside the part: its border)."""
        return sample_normalised(self.image, self.grid(positions))


def apply_affine(affine: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """points [h, w, 2] through affine [T, 3, 2] -> [T, h, w, 2]."""
    return torch.einsum("hwi,tij->thwj", points, affine[:, :2]) + affine[:, None, None, 2]

# ------------------------------------------------------------------------------------------- mouth


def interp_rows(xq: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Row-wise linear interpolation: xq [T, N], xp/fp [T, P] (xp increasing) -> [T, N], clamped at the ends."""
    P = xp.shape[1]
    idx = torch.searchsorted(xp.contiguous(), xq.contiguous()).clamp(1, P - 1)
    x_lo, x_hi = xp.gather(1, idx - 1), xp.gather(1, idx)
    f_lo, f_hi = fp.gather(1, idx - 1), fp.gather(1, idx)
    t = ((xq - x_lo) / (x_hi - x_lo).clamp_min(1e-6)).clamp(0, 1)
    return f_lo + t * (f_hi - f_lo)


def smooth_row(row: torch.Tensor, steps: int = 3) -> torch.Tensor:
    """A lip row [..., P, 2] (corner to corner) as a Catmull-Rom curve through its points, `steps` samples per
    segment: [..., (P - 1) * steps + 1, 2]. The face mesh's 11 points per lip draw a wide opening as a polygon,
    whose corners show as a V in the lower lip's edge; the curve passes through every point, corners included."""
    first = 2 * row[..., :1, :] - row[..., 1:2, :]  # mirrored neighbours beyond the corners
    last = 2 * row[..., -1:, :] - row[..., -2:-1, :]
    p = torch.cat([first, row, last], -2)
    # Each segment's four control points [..., P - 1, 1, 2] and the Catmull-Rom weights at t [steps, 1].
    p0, p1, p2, p3 = (p[..., k:p.shape[-2] - 3 + k, :].unsqueeze(-2) for k in range(4))
    t = (torch.arange(steps, dtype=row.dtype, device=row.device) / steps)[:, None]
    curve = (p0 * (-t ** 3 + 2 * t ** 2 - t) + p1 * (3 * t ** 3 - 5 * t ** 2 + 2)
             + p2 * (-3 * t ** 3 + 4 * t ** 2 + t) + p3 * (t ** 3 - t ** 2)) / 2  # [..., P - 1, steps, 2]
    curve = curve.flatten(-3, -2)  # segment by segment
    return torch.cat([curve, row[..., -1:, :]], -2)


def mouth_coordinates(upper: torch.Tensor, lower: torch.Tensor, points: torch.Tensor):
    """Mouth-frame coordinates of pixels.

    upper, lower: [T, P, 2] inner lip rows, corner to corner (shared corners). points: [h, w, 2].
    Returns u [T, h, w] (0 at one corner, 1 at the other), depth [T, h, w] px below the upper lip,
    height [T, h, w] px between the lips at that u, and width [T] px corner to corner.
    """
    T = upper.shape[0]
    h, w = points.shape[:2]
    origin = upper[:, 0]  # [T, 2]
    width = (upper[:, -1] - origin).norm(dim=-1).clamp_min(1e-3)  # [T]
    ex = (upper[:, -1] - origin) / width[:, None]
    ey = down_axis(upper)
    rel = points.reshape(1, -1, 2) - origin[:, None]  # [T, N, 2]
    xq, yq = (rel * ex[:, None]).sum(-1), (rel * ey[:, None]).sum(-1)  # [T, N]
    to_frame = lambda row: (((row - origin[:, None]) * ex[:, None]).sum(-1),  # noqa: E731
                            ((row - origin[:, None]) * ey[:, None]).sum(-1))
    xu, yu = to_frame(upper)
    xl, yl = to_frame(lower)
    xu, xl = xu.cummax(1).values, xl.cummax(1).values  # keep the rows monotone for interpolation
    y_up, y_lo = interp_rows(xq, xu, yu), interp_rows(xq, xl, yl)
    u = (xq / width[:, None]).reshape(T, h, w)
    return u, (yq - y_up).reshape(T, h, w), (y_lo - y_up).clamp_min(0).reshape(T, h, w), width


def down_axis(row: torch.Tensor) -> torch.Tensor:
    """[T, 2] unit vector across a lip or lid row [T, P, 2] (corner to corner), pointing down the image whichever
    corner comes first (the right eye runs right to left)."""
    axis = row[:, -1] - row[:, 0]
    ex = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-3)
    flip = torch.where(ex[:, 0] < 0, -1.0, 1.0)[:, None]
    return torch.stack([-ex[:, 1], ex[:, 0]], -1) * flip


def split_detail(image: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """image [1, C, H, W] -> (its Gaussian blur of `sigma` px, the detail image - blur): a skin's colour and grain."""
    low = gaussian_blur(image, sigma, truncate=2.5)
    return low, image - low


def lid_skin_offsets(depth: torch.Tensor, near: torch.Tensor, far: torch.Tensor) -> torch.Tensor:
    """[T, h, w] px from each pixel of a moved lid (depth px inside it) to source skin with the same grain.

    The grain is copied, not stretched (a stretched copy draws the lashes and folds it crosses as streaks): a
    pixel depth px into the moved lid reads the source lid band between `near` and `far` px beyond the margin,
    mirroring that band as often as the lid needs. near, far: broadcastable to depth.
    """
    span = (far - near).clamp_min(1.0)
    mirrored = span - (torch.remainder(depth, 2 * span) - span).abs()  # a triangle wave: no seam where it repeats
    return depth + near + mirrored


def eyelid(depth: torch.Tensor, height: torch.Tensor, skin: torch.Tensor, lash_width=1.0) -> torch.Tensor:
    """A moved lid: its skin [T, h, w, 3] (the source's, sampled by lid_skin_offsets) shaded as it curves away
    from the light toward its margin (over 3 lash widths, `lash_width` px each: a number or broadcastable to depth).

    depth, height: [T, h, w] mouth_coordinates between the open and the moved lid margin. Returns RGB.
    """
    to_margin = height - depth  # px from the moved margin
    return skin * (0.82 + 0.18 * smoothstep(0.0, 3.0 * lash_width, to_margin))[..., None]


def lash_fringe(u: torch.Tensor, to_margin: torch.Tensor, lash_width: torch.Tensor) -> torch.Tensor:
    """Coverage [T, h, w] (0..1) of the lashes along a lowered upper lid's margin.

    u: [T, h, w] 0 at the inner corner, 1 at the outer; to_margin: px from the margin, positive up into the lid,
    negative below it. Lashes are not a pencil line: their roots make a line along the margin and their tips a
    soft fringe below it, fuller and longer toward the outer corner, thinning out at both corners. (Clumps drawn
    as a pattern along the margin read as stitches on a large eye; a soft fringe does not.)
    lash_width (px, the roots' line; broadcastable to u) may be under a pixel on a small eye: the line is then
    drawn 1 px wide with that share of cover, as a thinner line looks once antialiased, and the tips stay short.
    """
    line = lash_width.clamp_min(1.0)
    fuller = 0.7 + 0.6 * smoothstep(0.15, 0.75, u)  # lash length and line width grow toward the outer corner
    roots = torch.where(to_margin >= 0, 1 - smoothstep(0.2 * line, 1.2 * line * fuller, to_margin),
                        smoothstep(-0.5 * line, 0.0, to_margin))
    tips = 0.5 * smoothstep(-(1.2 * lash_width * fuller).clamp_min(0.3), -0.1 * line, to_margin) * (to_margin < 0)
    taper = smoothstep(0.0, 0.25, u) * smoothstep(1.0, 0.88, u)
    return torch.maximum(roots, tips) * taper * lash_width.clamp_max(1.0)


def opening_gain(upper_d, lower_d, upper_s, lower_s) -> torch.Tensor:
    """How far the driven mouth opens beyond the source's, as a 0..1 weight per frame [T].

    upper_d, lower_d: [T, P, 2] driven inner lips; upper_s, lower_s: [P, 2] source inner lips. 0 while the
    mouth is nowhere more open than in the source (the warped source mouth is kept exactly); one weight for the
    whole mouth so the painted interior reaches into the corners instead of ending in a seam.
    """
    return smoothstep(0.005, 0.06, _extra_opening(upper_d, lower_d, upper_s, lower_s).amax(1))


def closing_gain(upper_d, lower_d, upper_s, lower_s) -> torch.Tensor:
    """How far the driven mouth closes past the source's somewhere along the lips, 0..1 per frame [T] (arguments as
    opening_gain's): 0 at zero motion."""
    return smoothstep(0.005, 0.06, -_extra_opening(upper_d, lower_d, upper_s, lower_s).amin(1))


def _extra_opening(upper_d, lower_d, upper_s, lower_s) -> torch.Tensor:
    """[T, P] the driven opening minus the source's at each lip point, in mouth widths."""
    width_d = (upper_d[:, -1] - upper_d[:, 0]).norm(dim=-1).clamp_min(1e-3)[:, None]  # [T, 1]
    width_s = (upper_s[-1] - upper_s[0]).norm().clamp_min(1e-3)
    return (lower_d - upper_d).norm(dim=-1) / width_d - (lower_s - upper_s).norm(dim=-1) / width_s
