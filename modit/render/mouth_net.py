"""A learned mouth (issue 15 item 4): a small U-Net that refines the procedural mouth in a crop around the lips.

Trained by self-reenactment on real talking clips (bench/mouthnet_data.py, modit_app/train_mouth.py): one frame of a
clip is the portrait, another frame's measured motion drives the flow renderer, and that real frame (aligned to the
render on the lips' landmarks) is the target. In a square crop that follows the driven lips (MouthCrop), the net
sees the render, the source's own mouth (cropped the same way around the source's lips) and the driven opening and
lips as masks; it returns an RGB residual that is added to the render inside a feathered mask around the outer
lips (the lips plus a margin that follows them, never a box). With no lip motion the residual is gated to zero, so
zero motion is still the exact source.

Notation: T frames, N the crop side in px, P lip points.
"""
import logging

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checkpoints import LoadedOnce
from .overlays import apply_affine, pixel_centres, polygon_distance, sample, smoothstep

log = logging.getLogger(__name__)

CROP = 96  # crop side, px
SPAN = 2.0  # crop side in outer-mouth widths (corner to corner)
FEATHER = 0.2  # paste mask: ramp outside the outer lips, in mouth widths
GATE_PX = (0.25, 1.5)  # largest lip displacement (output px) over which the residual fades in
IN_CHANNELS = 8  # render rgb, source-mouth rgb, opening mask, lips mask
WIDTHS = (16, 32, 48, 64)  # channels per U-Net level


class MouthNet(nn.Module):
    """A four-level U-Net: [B, 8, N, N] crop inputs in 0..1 -> [B, 3, N, N] RGB residual in -1..1 (N divisible
    by 8). The residual is a tanh, so it stays bounded and keeps its gradient (a clamp would stall training once
    it saturates). The last layer starts at zero, so an untrained net changes nothing.
    """

    def __init__(self, widths: tuple = WIDTHS):
        super().__init__()
        self.widths = tuple(widths)
        ins = (IN_CHANNELS, *widths[:-1])
        self.down = nn.ModuleList(_block(i, o) for i, o in zip(ins, widths))
        self.up = nn.ModuleList(_block(widths[k] + widths[k + 1], widths[k]) for k in range(len(widths) - 1))
        self.out = nn.Conv2d(widths[0], 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for k, block in enumerate(self.down):
            x = block(x if k == 0 else F.avg_pool2d(x, 2))
            skips.append(x)
        for k in reversed(range(len(self.up))):
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = self.up[k](torch.cat([skips[k], x], 1))
        return torch.tanh(self.out(x))


def _block(i: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.LeakyReLU(0.1), nn.Conv2d(o, o, 3, padding=1),
                         nn.LeakyReLU(0.1))


# ---------------------------------------------------------------------------------------------- crop geometry

def crop_affine(outer: torch.Tensor, size: int = CROP) -> torch.Tensor:
    """[T, 3, 2] affine from crop px (centres at k + 0.5) to output px, for outer lips [T, 2P, 2] (upper row
    corner to corner, then lower row): centred on the lips, x along the corners, SPAN mouth widths wide."""
    corner_a, corner_b = outer[:, 0], outer[:, outer.shape[1] // 2 - 1]
    axis = corner_b - corner_a
    width = axis.norm(dim=-1, keepdim=True).clamp_min(1.0)  # [T, 1]
    ex = axis / width
    ex = ex * torch.where(ex[:, :1] < 0, -1.0, 1.0)  # left to right on the image
    ey = torch.stack([-ex[:, 1], ex[:, 0]], -1)  # down the face
    side = SPAN * width  # [T, 1]
    centre = outer.mean(1)
    linear = torch.stack([ex, ey], 1) * (side / size)[..., None]  # [T, 2, 2] rows: crop x, crop y
    origin = centre - 0.5 * side * (ex + ey)
    return torch.cat([linear, origin[:, None]], 1)


def to_crop(affine: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Output-px points [T, P, 2] -> crop px under crop_affine's affine [T, 3, 2]."""
    return torch.linalg.solve(affine[:, :2].transpose(1, 2), (points - affine[:, None, 2]).transpose(1, 2)
                              ).transpose(1, 2)


def crop_pixels(size: int, device) -> torch.Tensor:
    """[N, N, 2] crop-pixel centres."""
    k = torch.arange(size, device=device, dtype=torch.float32) + 0.5
    return torch.stack(torch.meshgrid(k, k, indexing="xy"), -1)


def lip_rings(inner_upper, inner_lower, outer_upper, outer_lower):
    """(opening ring, outer ring) [T, E, 2] from [T, P, 2] rows that run corner to corner."""
    return (torch.cat([inner_upper, inner_lower[:, 1:-1].flip(1)], 1),
            torch.cat([outer_upper, outer_lower[:, 1:-1].flip(1)], 1))


def crop_masks(affine: torch.Tensor, opening: torch.Tensor, outer: torch.Tensor, size: int = CROP):
    """(opening [T, N, N], lips [T, N, N], paste [T, N, N]) in crop px for output-px rings [T, E, 2]."""
    pixels = crop_pixels(size, affine.device)
    d_open = polygon_distance(to_crop(affine, opening), pixels)
    d_outer = polygon_distance(to_crop(affine, outer), pixels)
    feather = FEATHER * size / SPAN
    return (smoothstep(-1.0, 1.0, d_open), smoothstep(-1.0, 1.0, d_outer), smoothstep(-feather, 0.0, d_outer))


LIP_ROWS = ("inner_upper", "inner_lower", "outer_upper", "outer_lower")


def lip_rows(vertices: torch.Tensor, topology) -> dict:
    """{inner_upper, inner_lower, outer_upper, outer_lower}: [..., P, 2] rows of render-mesh vertices [..., V, 2]."""
    return {name: vertices[..., getattr(topology, name.replace("_", "_lip_")).to(vertices.device), :]
            for name in LIP_ROWS}


def lip_gate(driven: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """[T] 0..1: 0 where no lip point moved (zero motion stays the exact source), 1 once one moved GATE_PX[1]."""
    moved = (driven - source[None]).norm(dim=-1).amax(1)
    return smoothstep(GATE_PX[0], GATE_PX[1], moved)


def net_inputs(render_crop, source_crop, opening, lips) -> torch.Tensor:
    """[T, 8, N, N] from crops [T, N, N, 3] and masks [T, N, N]."""
    return torch.cat([render_crop.permute(0, 3, 1, 2), source_crop.permute(0, 3, 1, 2), opening[:, None],
                      lips[:, None]], 1)


def mouth_crops(image: torch.Tensor, rows: dict, source_rows: dict, size: int = CROP):
    """What the net and the paste need, for driven lip rows (dict of [T, P, 2] output px) and the source's [P, 2].

    image: [1, 3, H, W] the source. Returns (affine [T, 3, 2] crop px -> output px, source crop [T, N, N, 3],
    opening, lips, paste [T, N, N]); the render crop is sampled by the caller through the same affine.
    """
    opening, outer = lip_rings(rows["inner_upper"], rows["inner_lower"], rows["outer_upper"], rows["outer_lower"])
    affine = crop_affine(torch.cat([rows["outer_upper"], rows["outer_lower"]], 1), size)
    src_affine = crop_affine(torch.cat([source_rows["outer_upper"], source_rows["outer_lower"]])[None], size)
    source_crop = sample(image, apply_affine(src_affine, crop_pixels(size, image.device)))
    return (affine, source_crop.expand(affine.shape[0], -1, -1, -1), *crop_masks(affine, opening, outer, size))


# ---------------------------------------------------------------------------------------------- at render time

class MouthRefiner:
    """The net and its use on a render: refine(rgb, box, ...) adds the learned residual around the driven lips."""

    def __init__(self, net: MouthNet, metadata: dict | None = None):
        self.net = net.eval()
        self.metadata = metadata or {}
        self.size = int(self.metadata.get("crop", CROP))

    @classmethod
    def load(cls, path: str, device: str | torch.device = "cpu") -> "MouthRefiner":
        from ..checkpoints import check_state_dict, load_checkpoint

        state, metadata = load_checkpoint(path, device)
        widths = tuple(metadata.get("widths", WIDTHS))
        net = MouthNet(widths).to(device)
        check_state_dict(state, {k: v.shape for k, v in net.state_dict().items()}, path, "mouth net", "train it with python -m modit_app train-mouth")
        net.load_state_dict(state)
        return cls(net, metadata)

    @torch.no_grad()
    def residual(self, render_crop, source_crop, opening, lips) -> torch.Tensor:
        """[T, N, N, 3] the net's correction to the render crop."""
        device = next(self.net.parameters()).device
        x = net_inputs(render_crop, source_crop, opening, lips).to(device)
        return self.net(x).permute(0, 2, 3, 1).to(render_crop.device)

    def refine_render(self, renderer, rgb: torch.Tensor, vertices: torch.Tensor) -> None:
        """The renderer's hook: refine its head-box rgb [T, h, w, 3] in place for driven vertices [T, V, 2]."""
        rows = lip_rows(vertices[..., :2], renderer.topology)
        source_rows = lip_rows(renderer.vertices[..., :2], renderer.topology)
        moving = torch.cat([rows[n] for n in LIP_ROWS], 1)
        still = torch.cat([source_rows[n] for n in LIP_ROWS], 0)
        self.refine(rgb, renderer.box, renderer.image, rows, source_rows, lip_gate(moving, still))

    @torch.no_grad()
    def refine(self, rgb: torch.Tensor, box: tuple, image: torch.Tensor, rows: dict, source_rows: dict,
               gate: torch.Tensor) -> None:
        """Add the learned residual to the head-box render rgb [T, h, w, 3] (box (x0, y0, w, h), output px) in place.

        rows: driven lip rows [T, P, 2]; source_rows: the source's [P, 2]; gate [T] (lip_gate)."""
        if float(gate.max()) <= 0:
            return
        affine, source_crop, opening, lips, paste = mouth_crops(image, rows, source_rows, self.size)
        pixels = crop_pixels(self.size, rgb.device)
        head = rgb.permute(0, 3, 1, 2)
        x0, y0 = box[0], box[1]
        positions = apply_affine(affine, pixels) - torch.tensor([x0, y0], device=rgb.device, dtype=rgb.dtype)
        render_crop = sample(head, positions)  # head-box px positions
        delta = self.residual(render_crop, source_crop, opening, lips) * (paste * gate[:, None, None])[..., None]
        # Back to the head box: every pixel whose crop position falls inside the crop takes the residual there.
        ring = torch.cat([rows["outer_upper"], rows["outer_lower"]], 1)
        reach = SPAN / 2 * (ring[:, 0] - ring[:, ring.shape[1] // 2 - 1]).norm(dim=-1).amax()
        centre = ring.mean(1)
        lo = (centre.amin(0) - reach).floor().int().tolist()
        hi = (centre.amax(0) + reach).ceil().int().tolist()
        bx0, by0 = max(lo[0] - x0, 0), max(lo[1] - y0, 0)
        bx1, by1 = min(hi[0] - x0, rgb.shape[2]), min(hi[1] - y0, rgb.shape[1])
        if bx1 <= bx0 or by1 <= by0:
            return
        region_box = (x0 + bx0, y0 + by0, bx1 - bx0, by1 - by0)
        out_px = pixel_centres(region_box, rgb.device)  # [h', w', 2] output px
        in_crop = torch.einsum("thwi,tij->thwj", out_px[None] - affine[:, None, None, 2],
                               torch.linalg.inv(affine[:, :2]))  # crop px
        back = sample(delta.permute(0, 3, 1, 2), in_crop)  # outside the crop the border is ~0 (paste mask)
        inside = ((in_crop >= 0) & (in_crop <= self.size)).all(-1, keepdim=True)
        rgb[:, by0:by1, bx0:bx1] += torch.where(inside, back, torch.zeros_like(back))
        rgb.clamp_(0, 1)


# ---------------------------------------------------------------------------------------------- weights

WEIGHTS_FILE = "mouth_net_real.safetensors"  # models/modit/ (a user's own) or modit/weights/ (bundled)


def find_weights() -> str | None:
    """The learned mouth's weights: models/modit/WEIGHTS_FILE if a user put one there, else the bundled file."""
    from ..checkpoints import user_or_bundled

    return user_or_bundled(WEIGHTS_FILE)


def _load_logged(path: str) -> MouthRefiner:
    refiner = MouthRefiner.load(path)
    log.info("learned mouth: %s (%s)", path, refiner.metadata.get("license", "no licence in metadata"))
    return refiner


_LOADED = LoadedOnce(_load_logged)


def load_refiner() -> MouthRefiner | None:
    """The learned mouth, loaded once per weights file; None (with a warning naming the fix) when there is none."""
    path = find_weights()
    if path is None:
        log.warning("learned mouth: no %s in models/modit or modit/weights; rendering the procedural mouth "
                    "instead (train one with python -m modit_app train-mouth)", WEIGHTS_FILE)
        return None
    return _LOADED.get(path)
