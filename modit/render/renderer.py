"""The embedded flow renderer (paper §3.4.5): driven mesh -> dense backward flow -> warp -> overlays -> paste-back.

MoDiT predicts optical flow from the 3DMM coefficients, pose, blink and the Wav2Lip lip reference and warps the
source. Here the flow comes from geometry instead of a network: the driven render mesh (geometry.py: lips that
never cross or fold, eyes and nose moved only by the pose) is rasterised on a coarse grid over the head box
(flow.py), smoothed over the face's outline (so a turning cheek bends as one piece), upsampled, refined around the
lips at output resolution (so the lip line stays crisp), and used with grid_sample; eyeballs and lids are painted
over (overlays.py) and the gap between the inner lips is filled (mouth.py); the head box is pasted into the
full-resolution source with a feathered mask that follows the head's anchor rings and is exactly 0 outside ring B,
so those pixels are the source's own.

Notation: T frames, V render-mesh vertices, (h, w) the head box at output resolution, (H, W) the output.
"""
import collections
import contextlib
import itertools
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from .. import comfy_adapter
from ..face.components import SPACE_NAME
from ..types import Face, Motion
from . import mouth, overlays
from .flow import Grid, backward_flow, contour_smoothing, smooth_contour
from .geometry import close_eyelids, driven_vertices, drive_landmarks, source_geometry
from .topology import NUM_LANDMARKS, render_topology

log = logging.getLogger(__name__)

# cavity: the gap between the driven inner lips is filled (mouth.py): the source's own interior carried by each lip,
# and a shaded throat, teeth and tongue where it opens beyond the source's opening.
# stretch: no interior; the warp alone (the lips' inner edge stretches), useful to compare or for closed mouths.
NO_TEETH = "cavity (no teeth)"  # the cavity with gums where the portrait shows no teeth (a baby, a toothless mouth)
CAVITIES = ("cavity", NO_TEETH)  # the styles that fill the opening
MOUTH_STYLES = (*CAVITIES, "stretch")
MOUTH_GRID_CELLS = 224  # longest side of the lips' own flow grid (output px up to this size)
# Where the face's exposure is read (mesh indices; the mouth interior and generic teeth are lit at the median luma):
# cheeks (50, 280, 101, 330, 117, 346, 205, 425, 36, 266), the nose's bridge (6, 197, 195, 5), forehead and brows
# (151, 9, 10, 108, 337). Nineteen points so that bangs, a hat brim, a beard's edge, glasses or one cheek in shadow
# stay a minority: with the first six alone, bangs and blushed cheeks read a pale face at 0.44 (0.61 here) and its
# teeth came out grey.
SKIN_POINTS = (50, 280, 101, 330, 151, 9, 6, 197, 195, 5, 117, 346, 205, 425, 36, 266, 10, 108, 337)
# Face widths from the image's edge over which the warp fades to nothing: past the edge there is no source to sample,
# and a face cut by the border, moving, dragged the edge's last column across the frame in streaks.
EDGE_MARGIN = 0.1
LID_BLUR = 0.02  # inter-ocular distances: the blur that separates the lid skin's colour from its grain
GRAIN_BLUR = 0.006  # inter-ocular distances: the grain is what varies faster (pores), not folds or lashes
LASH_HEIGHT = 0.35  # of the crease-to-margin band: how far the upper lashes reach above the open margin
# A lowered lid starts up to this much of the band above the open margin, above the lashes and the liner (0.35, the
# lashes' height, left a dark arc over made-up closed lids), fading in over the top LID_FADE of it; its colour is
# read LID_SAMPLES bands above that start, toward its top LID_ABOVE bands above it.
LID_TOP, LID_FADE = 0.75, 0.8
LID_SAMPLES, LID_ABOVE = (0.1, 0.2, 0.3, 0.4, 0.5), 0.3
LID_UNDER_EYE = 0.7  # a lowered lid's colour is at least this share of the luma of the skin under the eye
LID_NOT_SKIN = 0.25  # ... unless its own band reads under this share (hair over the eye reads 0.22; deep sockets
# under a brow's shadow 0.36-0.65 on the gallery): then it is left as it is
UNDER_EYE_BANDS = (0.8, 1.6)  # crease bands below the eye where the skin under it is read (clear of its lashes)
LOWER_LID_BANDS = (0.2, 0.4, 0.6)  # crease bands below the open lower margin: the lower lid's own skin
LOWER_LID_OVER = 1.3  # the raised lower lid is at most this much brighter than the lower lid's own skin
LOWER_LID_SHADOW = 0.8  # the raised lower lid's brightness where it meets the upper one (1 at its foot)
LOWER_LID_REACH = 2.5  # how far below the raised lower margin its skin is painted, in rises (1: the open margin)
IRIS_DARK = 0.3  # under this share of the under-eye skin's luma, what lies below the mesh's lower margin is the iris
IRIS_MAX = 0.8  # crease bands: the furthest below the margin it is looked for (and the white above the upper one)
# Brighter than this share of the under-eye skin's luma and less colourful than SCLERA_GREY of its saturation, what
# lies above the mesh's upper margin is the white of the eye (the margin drawn across the eye on a turned head). Only
# where the skin itself has colour (saturation SCLERA_SKIN and more; black-and-white photos read 0, the least
# colourful colour photo of the gallery 0.08): in a grey photo a lit lid is as grey as the white.
SCLERA_BRIGHT, SCLERA_GREY, SCLERA_SKIN = 1.15, 0.6, 0.05
LOWER_LID_FROM = 0.6  # the raised lower lid fades in as the upper one goes from this share of its way down to all
LASHES = 0.85  # the cover of the lashes along a lowered lid's margin where they are fullest (0..1)
LASH_TONE = 0.3  # the lashes' colour: the lid skin's, this much as bright
LASH_WIDTH = 0.035  # of the eye's width: the width of the line the lashes' roots make
AROUND_BLUR = 0.03  # mouth widths: the blur that reads the colour around the opening (the lips' edge shades from it)
GRAIN_LIMIT = 0.035  # the most the copied grain may move a lid pixel (0..1): pores and fine lines, not lashes


@dataclass(frozen=True)
class RenderOptions:
    max_side: int = 0  # longest output side in px; 0 keeps the source resolution
    feather: float = 0.5  # 0..1: width of the soft band around the head where the warp fades out
    mouth_style: str = "cavity"
    flow_resolution: int = 160  # longest side of the flow grid over the head box (cost ~ its square)
    # Frames rasterised together; 0 picks per device (chunk_frames). A chunk's op count does not grow with its
    # frames, so a GPU, which pays per launch, wants long chunks; a CPU pays per element and gains nothing past 8.
    chunk_size: int = 0
    # CPU threads while rendering: its tensors are small (tens of thousands of elements), so thread hand-offs
    # cost more than they save (bench/bench_render.py: 22 vs 150 ms per 512 px frame on a busy 2-core CPU), and
    # a streaming encode gets the other cores. 0 leaves torch's setting alone. Restored after every chunk (after the
    # render with MODIT_CPU_RENDER_WORKERS above 1).
    cpu_threads: int = 1
    # A learned mouth (mouth_net.MouthRefiner) that refines the cavity's mouth around the driven lips; None keeps
    # the procedural mouth alone.
    mouth_net: object = None


def measure_mouth(image: torch.Tensor, vertices: torch.Tensor, topology) -> mouth.SourceMouth:
    """The source's inner-lip opening with lip, skin and teeth colours sampled from image [1, 3, H, W] at the render
    mesh's vertices [V, 2] (that image's px)."""
    t = topology
    at = lambda xy: overlays.sample(image, xy[None, None])[0, 0]  # noqa: E731
    v = lambda idx: vertices[idx.to(vertices.device)]  # noqa: E731
    upper, lower = v(t.inner_lip_upper), v(t.inner_lip_lower)
    # Mid-lip points (between the outer and inner contours): lip, not moustache or teeth.
    mid_upper, mid_lower = (v(t.outer_lip_upper) + upper) / 2, (v(t.outer_lip_lower) + lower) / 2
    lip = at(torch.cat([mid_upper, mid_lower])[2:-2]).median(0).values
    lips = torch.stack([at(mid_upper[2:-2]).median(0).values, at(mid_lower[2:-2]).median(0).values])
    skin = at(v(torch.tensor(SKIN_POINTS)))
    skin_luma = (skin @ overlays.luma_weights(image.device)).median()
    # The interior is drawn between the rows as curves (overlays.smooth_row), the source's as the driven ones.
    return mouth.source_mouth(image, overlays.smooth_row(upper), overlays.smooth_row(lower), lip, skin_luma, lips,
                              overlays.smooth_row(v(t.outer_lip_lower)), skin.median(0).values)


def portrait_mouth(face: Face) -> mouth.SourceMouth:
    """What the renderer finds in the portrait's mouth (measure_mouth on the face crop and its mesh), without
    building a renderer: whether it shows teeth, how far it is open."""
    image = face.crop.float().permute(2, 0, 1)[None].contiguous()
    return measure_mouth(image, face.landmarks[:, :2].float(), render_topology())


class FlowRenderer:
    """Renders frames of one source face; build once per (face, options), then call render() per chunk."""

    def __init__(self, face: Face, options: RenderOptions, device: torch.device | None = None):
        if face.space != SPACE_NAME:
            raise ValueError(f"face: the flow renderer decodes the {SPACE_NAME!r} expression space, got "
                             f"{face.space!r}; analyse the portrait with the embedded face stack")
        if options.mouth_style not in MOUTH_STYLES:
            raise ValueError(f"mouth_style: expected one of {MOUTH_STYLES}, got {options.mouth_style!r}")
        self.face = face
        self.options = options
        self.device = device or comfy_adapter.compute_device()
        self._luma = overlays.luma_weights(self.device)
        H0, W0 = face.image.shape[:2]
        scale = 1.0 if options.max_side <= 0 else min(1.0, options.max_side / max(H0, W0))
        self.height, self.width = max(round(H0 * scale), 1), max(round(W0 * scale), 1)
        self.scale = self.width / W0
        image = face.image.float().permute(2, 0, 1)[None].to(self.device)  # [1, 3, H0, W0]
        if (self.height, self.width) != (H0, W0):
            image = F.interpolate(image, size=(self.height, self.width), mode="bilinear", antialias=True,
                                  align_corners=False).clamp(0, 1)
        self.image = image.contiguous()  # [1, 3, H, W]
        self.topology = render_topology()
        self.triangles = self.topology.triangles.to(self.device)
        plain = source_geometry(face, self.topology, self.scale, options.feather)
        corners = self._seam_ends(plain.vertices)
        self.source = source_geometry(face, self.topology, self.scale, options.feather, corners)
        self.vertices = self.source.vertices.to(self.device)
        self.mask_value = torch.cat([torch.ones(NUM_LANDMARKS + len(self.topology.face_oval)),
                                     torch.zeros(len(self.topology.face_oval))]).to(self.device)
        box = overlays.union_box(self.source.vertices[self.topology.ring_b], 1, self.width, self.height)
        if box is None:
            raise ValueError("face: the head lies outside the image; re-run the face analysis on this image")
        x0, y0, bw, bh = box
        # The face is rasterised on the flow grid; the whole mesh, for the anchor band around the face where the
        # flow is smooth and the triangles are long (costly bounding boxes), on a grid of half the resolution.
        # The coarse layer covers the face too, so its upsampled flow agrees with the fine one at the oval.
        cells = min(options.flow_resolution / max(bw, bh), 1.0)
        self.grid = Grid(x0, y0, bw, bh, max(round(bw * cells), 2), max(round(bh * cells), 2))
        self.band_grid = Grid(x0, y0, bw, bh, max(round(bw * cells / 2), 2), max(round(bh * cells / 2), 2))
        in_face = (self.triangles < NUM_LANDMARKS).all(1)
        self.face_triangles = self.triangles[in_face]
        # The band layer needs the anchor bands and the face's outer rows (its upsampled flow must agree with
        # the fine layer just inside the oval); the rest of the face is covered by the fine layer.
        oval = torch.zeros(self.vertices.shape[0], dtype=torch.bool, device=self.device)
        oval[self.topology.face_oval.to(self.device)] = True
        oval[NUM_LANDMARKS:] = True
        near_oval = oval.clone()
        near_oval[self.triangles[oval[self.triangles].any(1)].flatten()] = True
        self.band_triangles = self.triangles[near_oval[self.triangles].any(1)]
        self.contour = contour_smoothing(self.grid, self.vertices[self.topology.face_oval.to(self.device)])
        self.box = box
        self.box_pixels = overlays.pixel_centres(box, self.device)  # [h, w, 2]
        # Every driven pixel samples the source inside the head box: where a source vertex or its own cell was.
        self.supersampled = overlays.Supersampled(self.image, box)
        self.box_grid = self.supersampled.grid(self.box_pixels)  # [h, w, 2] in grid_sample's units
        self.edge_weight = self._edge_weight(self.box_pixels)  # [h, w] or None
        # Only the face's own vertices: the anchor rings past the edge keep following the outline as before, so
        # the hair and ears between them still move as one piece with the head.
        self.vertex_weight = None
        if self.edge_weight is not None:
            face_weight = self._edge_weight(self.vertices[:NUM_LANDMARKS])
            if face_weight is not None:
                self.vertex_weight = torch.ones(self.vertices.shape[0], device=self.device)
                self.vertex_weight[:NUM_LANDMARKS] = face_weight
        self.mouth_weight, self.mouth_triangles = self._mouth_patch()
        self.mouth = self._source_mouth()
        # Lid skin: its colour (blurred over a few px, so lashes and pores average out) and its finest grain.
        eyes = [self.vertices[self.topology.eye_upper[e].to(self.device)].mean(0) for e in range(2)]
        iod = float((eyes[0] - eyes[1]).norm().clamp_min(8.0))
        self.skin_colour, _ = overlays.split_detail(self.image, sigma=LID_BLUR * iod)
        _, self.skin_grain = overlays.split_detail(self.image, sigma=max(GRAIN_BLUR * iod, 0.7))
        self.iris_under = self._iris_under_margins()
        self.sclera_over = self._sclera_over_margin()

    def _edge_weight(self, points: torch.Tensor) -> torch.Tensor | None:
        """[...] the share of its motion each point [..., 2] (output px) keeps: 0 on the image's outermost pixels
        and beyond them, 1 from EDGE_MARGIN face widths inside them; None where all stay that far inside."""
        x, y = points[..., 0], points[..., 1]
        to_edge = torch.minimum(torch.minimum(x, self.width - x), torch.minimum(y, self.height - y))  # px
        oval = self.vertices[self.topology.face_oval.to(self.device)]
        margin = EDGE_MARGIN * float(oval[:, 0].max() - oval[:, 0].min())
        weight = overlays.smoothstep(0.5, max(margin, 1.5), to_edge)
        return None if bool((weight == 1).all()) else weight

    def _held_at_edge(self, vertices: torch.Tensor) -> torch.Tensor:
        """Driven vertices [T, V, 2] with their motion faded out toward the image's edge (_edge_weight): the eyes
        and lips painted over the warp move with it there."""
        if self.vertex_weight is None:
            return vertices
        return self.vertices + self.vertex_weight[:, None] * (vertices - self.vertices)

    def _seam_ends(self, vertices: torch.Tensor) -> torch.Tensor:
        """Where the inner mouth corners go (mouth.seam_ends), from the source image."""
        t = self.topology
        inner = vertices[[int(t.inner_lip_upper[0]), int(t.inner_lip_upper[-1])]].to(self.device)
        return mouth.seam_ends(self.image, inner, (inner[1] - inner[0]).norm()).cpu()

    def _mouth_patch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The lips' neighbourhood, rasterised again at output resolution every frame.

        Returns a per-vertex blend weight [V] (1 around the lips, fading to 0 on an ellipse that follows the
        face's own mouth size, 0 on the anchor rings) and the triangles [F', 3] that touch it. The coarse flow
        grid (a few px per cell) cannot resolve the lip line: where the inner lips meet or part, its cells
        mix the upper and lower lip's source positions into blocky, torn edges.
        """
        t = self.topology
        xy = self.vertices[:NUM_LANDMARKS]
        lips = torch.cat([t.outer_lip_upper, t.inner_lip_lower]).to(self.device)
        centre = xy[lips].mean(0)
        width = (xy[t.outer_lip_upper[-1]] - xy[t.outer_lip_upper[0]]).norm().clamp_min(2.0)
        radius = (((xy - centre) / torch.stack([0.75 * width, 0.5 * width])) ** 2).sum(-1).sqrt()
        weight = torch.zeros(self.vertices.shape[0], device=self.device)
        weight[:NUM_LANDMARKS] = overlays.smoothstep(1.0, 0.7, radius)
        touches = (weight[self.face_triangles] > 0).any(1)
        # Output px per cell of the lips' grid: 1 up to MOUTH_GRID_CELLS cells across the widest opening.
        extent = 2.5 * float(width)
        self.mouth_step = max(1, math.ceil(extent / MOUTH_GRID_CELLS))
        return weight, self.face_triangles[touches]

    def _refine_mouth(self, flow: torch.Tensor, vertices: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Blend the lips' flow, rasterised at output resolution, into the head-box flow [T, 2, bh, bw]."""
        step = self.mouth_step
        weighted = vertices[:, self.mouth_weight > 0]  # outside them the blend weight is 0
        box = self._clip_to_head_box(overlays.union_box(weighted, 2 * step, self.width, self.height))
        if box is None:
            return flow
        # Cells on one lattice (step px, anchored at the head box) whatever the chunk's box, so every chunk
        # samples the same flow at the same pixel: no change of rasterisation at a chunk boundary.
        X0, Y0, BW, BH = self.box
        x0, y0 = X0 + (box[0] - X0) // step * step, Y0 + (box[1] - Y0) // step * step
        w = min(-(-(box[0] + box[2] - x0) // step) * step, (X0 + BW - x0) // step * step)
        h = min(-(-(box[1] + box[3] - y0) // step) * step, (Y0 + BH - y0) // step * step)
        if w < 2 * step or h < 2 * step:
            return flow
        grid = Grid(x0, y0, w, h, w // step, h // step)
        fine, weight = backward_flow(vertices, depth, self.vertices, self.mouth_weight, self.mouth_triangles, grid)
        fine, weight = fine.permute(0, 3, 1, 2), weight[:, None]
        if (grid.height, grid.width) != (h, w):
            fine = F.interpolate(fine, size=(h, w), mode="bilinear", align_corners=False)
            weight = F.interpolate(weight, size=(h, w), mode="bilinear", align_corners=False)
        bx, by = x0 - self.box[0], y0 - self.box[1]
        region = flow[:, :, by:by + h, bx:bx + w]
        region += weight * (fine - region)
        return flow

    def _source_mouth(self) -> mouth.SourceMouth:
        """The source's inner-lip opening with lip, skin and teeth colours sampled from the source image."""
        measured = measure_mouth(self.image, self.vertices, self.topology)
        return replace(measured, generic_teeth=self.options.mouth_style != NO_TEETH)

    # --------------------------------------------------------------------------------------------- per chunk

    def render(self, expression: torch.Tensor, pose: torch.Tensor, eye_closure: torch.Tensor,
               reference: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Render the head box of one chunk.

        expression [T, K], pose [T, 6], eye_closure [T, 2] (any float dtype); reference: optional [T, h', w', 3]
        mouth reference frames (full image or face crop layout). Returns (rgb [T, h, w, 3] float32 0..1,
        mask [T, h, w] float32 0..1) for the head box self.box on self.device.
        """
        landmarks = drive_landmarks(self.face, expression.float().cpu(), pose.float().cpu(), self.topology)
        closed = close_eyelids(landmarks, eye_closure.float().cpu(), self.topology)
        vertices, depth = driven_vertices(closed, self.source, self.topology)
        open_vertices, _ = driven_vertices(landmarks, self.source, self.topology)
        vertices, depth = self._held_at_edge(vertices.to(self.device)), depth.to(self.device)
        flow, covered = backward_flow(vertices, depth, self.vertices, self.mask_value, self.face_triangles,
                                      self.grid)
        band_flow, band_mask = backward_flow(vertices, depth, self.vertices, self.mask_value, self.band_triangles,
                                             self.band_grid)
        size = (self.grid.height, self.grid.width)
        band_flow = F.interpolate(band_flow.permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=False)
        band_mask = F.interpolate(band_mask[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
        face = covered > 0  # the face mask value is 1 on every face vertex
        flow = torch.where(face[..., None], flow, band_flow.permute(0, 2, 3, 1))  # [T, h, w, 2]
        flow = smooth_contour(flow, self.contour)  # the outline bends as one piece (flow.py)
        mask = torch.where(face, covered, band_mask)
        _, _, bw, bh = self.box
        flow = F.interpolate(flow.permute(0, 3, 1, 2), size=(bh, bw), mode="bilinear", align_corners=False)
        flow = self._refine_mouth(flow, vertices, depth)
        if self.edge_weight is not None:
            flow = flow * self.edge_weight
        mask = F.interpolate(mask[:, None], size=(bh, bw), mode="bilinear", align_corners=False)[:, 0]
        # Where each pixel samples (its centre plus the flow), in grid_sample's units: one multiply-add.
        positions = torch.addcmul(self.box_grid, flow.permute(0, 2, 3, 1), self.supersampled.scale)  # [T, h, w, 2]
        rgb = overlays.sample_normalised(self.supersampled.image, positions)  # [T, h, w, 3]
        open_vertices = self._held_at_edge(open_vertices.to(self.device))
        self._paint_eyes(rgb, vertices, open_vertices, eye_closure.float().clamp(0, 1).to(self.device))
        if self.options.mouth_style in CAVITIES or reference is not None:
            self._paint_mouth(rgb, vertices, reference)
        if self.options.mouth_net is not None and reference is None and self.options.mouth_style in CAVITIES:
            self.options.mouth_net.refine_render(self, rgb, vertices)
        # The warp already fades to zero displacement at ring B; the mask fades only over the band's outer
        # third, where little moves, so the paste-back never blends moved hair with unmoved hair (ghosting).
        mask = overlays.smoothstep(0.0, 0.35, mask)
        return rgb.clamp(0, 1), mask

    def _paste(self, rgb: torch.Tensor, box: tuple, layer: torch.Tensor, alpha: torch.Tensor) -> None:
        """Blend layer [T, h', w', 3] with alpha [T, h', w'] into rgb (head box) at the output-px box, in place."""
        x0, y0, w, h = box
        bx, by = x0 - self.box[0], y0 - self.box[1]
        region = rgb[:, by:by + h, bx:bx + w]
        region += alpha[..., None] * (layer - region)

    def _clip_to_head_box(self, box):
        if box is None:
            return None
        x0, y0, w, h = box
        X0, Y0, W, H = self.box
        x1, y1 = min(x0 + w, X0 + W), min(y0 + h, Y0 + H)
        x0, y0 = max(x0, X0), max(y0, Y0)
        return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None

    def _paint_eyes(self, rgb: torch.Tensor, vertices: torch.Tensor, open_vertices: torch.Tensor,
                    closure: torch.Tensor) -> None:
        """Eyeballs and lids painted into rgb (head box) in place; closure [T, 2] 0..1 as close_eyelids took it."""
        t = self.topology
        for eye in range(2):
            ring = torch.cat([t.eye_upper[eye], t.eye_lower[eye, 1:-1].flip(0)]).to(self.device)
            fit_points = torch.cat([ring, t.lid_crease[eye].to(self.device)])
            upper, lower = t.eye_upper[eye].to(self.device), t.eye_lower[eye].to(self.device)
            # The raised lower lid reaches a little below the open margin (LOWER_LID_REACH), and past the iris where
            # that reaches further below the mesh's margin (_iris_under_margins).
            rise = open_vertices[:, lower] - vertices[:, lower]
            lower_down = overlays.down_axis(vertices[:, lower])  # [T, 2]
            iris = self.iris_under[eye][None, :, None] * lower_down[:, None]  # [T, P, 2]
            reach = vertices[:, lower] + LOWER_LID_REACH * rise + iris
            # The box takes in the crease (a lowered lid starts up to LID_TOP of the crease-margin band above the
            # open margin) and the lower lid's reach (cut at the box, the iris's lowest rim showed under it).
            fit = torch.cat([open_vertices[:, fit_points], reach], 1)
            box = self._clip_to_head_box(overlays.union_box(fit, 2, self.width, self.height))
            if box is None:
                continue
            pixels = overlays.pixel_centres(box, self.device)
            affine = overlays.fit_affine(open_vertices[:, fit_points], self.vertices[fit_points])
            eyeball = self.supersampled.sample(overlays.apply_affine(affine, pixels))
            # The eyeball fills the whole open eye, not only the driven opening: the warp squashes the iris and
            # the lashes into a closing opening, and any of it left under the lids' soft edges shows through them.
            open_alpha = overlays.between_curves_alpha(open_vertices[:, upper], open_vertices[:, lower], pixels)
            self._paste(rgb, box, eyeball, open_alpha)
            if not bool((closure[:, eye] > 0).any()):
                # Open all chunk long, the margins have not moved: both lids and the lashes below would be pasted
                # with zero cover (an exact no-op), so most chunks, between blinks, skip their cost.
                continue
            # The lowered lid: the source's own lid skin (between the crease and the margin, clear of the lashes)
            # stretched down to the lowered margin, with a lash line along it. Sampled by the eye's affine, so the
            # lid keeps the photo's grain; nothing outside the eye opening (brows, glasses) is read or painted.
            crease = open_vertices[:, t.lid_crease[eye].to(self.device)]
            band = (crease - open_vertices[:, upper[1:-1]]).norm(dim=-1).median(1).values  # [T] px, crease-margin
            down = overlays.down_axis(open_vertices[:, upper])
            # The lashes and the liner stand above the open margin: the lowered lid starts above them (up to LID_TOP
            # of the band, and no higher than the lid has come down; nothing at the corners) and fades in over the
            # upper LID_FADE of that, so neither stays behind as a dark arc over the closed lid (goggles).
            lowered = (vertices[:, upper] - open_vertices[:, upper]).norm(dim=-1).amax(1)  # [T] px
            lift = torch.minimum(LID_TOP * band, lowered)  # [T]
            arch = arch_at(torch.linspace(0, 1, upper.shape[0], device=self.device))  # [P]
            # Where the white of the eye shows above the mesh's margin (_sclera_over_margin), the margin is that much
            # too low: the lid starts that much higher as it comes down, the corners included, and its colour is read
            # that much higher from the start.
            sclera = self.sclera_over[eye]  # px
            over = torch.minimum(sclera, lowered)  # [T]
            top = open_vertices[:, upper] - (lift[:, None] * arch + over[:, None])[..., None] * down[:, None]
            u, depth, height, width = overlays.mouth_coordinates(top, vertices[:, upper], pixels)
            b = band[:, None, None]
            fade_in = overlays.smoothstep(0.0, LID_FADE * lift[:, None, None].clamp_min(1e-3) * arch_at(u), depth)
            # The lid's colour is read from its own band above the lashes: per channel the second brightest of five
            # depths (LID_SAMPLES) from just above the lifted margin to about the crease, so neither the lashes and
            # the crease's shadow nor a glasses frame above it darken the lid (an order statistic moves continuously,
            # where picking one sample would jump between frames). Colours are read above the margin lifted by the
            # full lift, also near the corners where the lid itself starts at the margin: read there, the corners'
            # lashes would outline the closed lid as an almond.
            above_lift = depth + (lift[:, None, None] * (1 - arch_at(u))) + (sclera - over)[:, None, None]
            colour = torch.stack([self._sample_lid(self.skin_colour, affine, pixels, down, -(above_lift + k * b))
                                  for k in LID_SAMPLES]).sort(0).values[3]
            # Toward its top the lid takes the colour of the skin above it (crease shadow, eye shadow), so it
            # continues the face instead of standing out as a lighter lens.
            above = self._sample_lid(self.skin_colour, affine, pixels, down, -(above_lift + LID_ABOVE * b))
            colour = above + overlays.smoothstep(0.0, 0.5 * height, depth)[..., None] * (colour - above)
            # A closed lid bulges forward over the eyeball and catches the light as the skin under the eye does.
            # Read only from the band above the lashes, under a brow's or a deep socket's shadow it drew a dark blot
            # on every blink: it takes on that skin's colour until it is at least LID_UNDER_EYE of its luma. (A band
            # far darker than that is no lid in shadow but hair or a frame over the eye: it is left as it is.)
            under = self._skin_under(affine, open_vertices[:, lower], down, band)  # [T, 3]
            opening = overlays.opening_alpha(u, depth, height, width)  # the lowered lid's cover
            own = ((colour @ self._luma) * opening).sum((1, 2)) / opening.sum((1, 2)).clamp_min(1e-6)  # [T]
            lit = under @ self._luma
            lift = ((LID_UNDER_EYE * lit - own) / (lit - own).clamp_min(1e-3)).clamp(0, 1)
            lift = lift * overlays.smoothstep(LID_NOT_SKIN, 1.3 * LID_NOT_SKIN, own / lit.clamp_min(1e-3))
            colour = colour + lift[:, None, None, None] * (under[:, None, None] - colour)
            grain = self._sample_lid(self.skin_grain, affine, pixels, down,
                                     -overlays.lid_skin_offsets(depth, 0.45 * b, 1.1 * b))
            skin = colour + grain.clamp(-GRAIN_LIMIT, GRAIN_LIMIT)  # no lash or fold is copied as a streak
            # The lashes' width follows the eye's size (a 1 px pencil line on a large eye reads as drawn).
            lash_width = (LASH_WIDTH * width)[:, None, None]  # per frame: a chunk's mean would differ by its size
            lid = overlays.eyelid(depth, height, skin, lash_width=lash_width.clamp_min(1.0))
            lid_alpha = opening * fade_in
            # The moved lashes: a darker shade of the lid's own skin, drawn in as far as the lid covers the source's
            # lashes (fully once it is lowered by the lashes' height), over the lid and below its margin alike.
            covered = overlays.smoothstep(0.0, (LASH_HEIGHT * band).clamp_min(1.0), lowered)[:, None, None]
            lashes = overlays.lash_fringe(u, height - depth, lash_width) * covered * LASHES
            lash_colour = skin * LASH_TONE
            # The raised lower lid: the skin below it (colour from below the region, clear of the dark under the
            # lashes; grain repeated), so no sliver of the eye shows under a closed lid. It reaches a little below
            # the open margin: the mesh's lower-lid points tend to sit above the visible edge, so the iris's lowest
            # rim would otherwise peek out under a closed lid.
            u, depth, height, width = overlays.mouth_coordinates(vertices[:, lower], reach, pixels)
            down = lower_down
            below = height - depth
            # The brighter of two depths below it (under-eye shadow alone draws a dark band under the closed lid's
            # lash line, read as the iris showing through), in the upper lid's shadow toward the line where they meet.
            colour = self._brighter(*[self._sample_lid(self.skin_colour, affine, pixels, down, below + k * b)
                                      for k in UNDER_EYE_BANDS])
            # ...but no more than LOWER_LID_OVER as bright as the lower lid's own skin: a cheek lit by a side light
            # (twice the lid's luma on turned_brown_woman) drew a pale crescent under the closed lid's lash line.
            lid_own = self._skin_under(affine, open_vertices[:, lower] + iris, down, band, LOWER_LID_BANDS)  # [T, 3]
            ratio = (colour @ self._luma) / (LOWER_LID_OVER * lid_own @ self._luma).clamp_min(1e-3)[:, None, None]
            capped = overlays.smoothstep(0.9, 1.1, ratio)[..., None]
            colour = colour + capped * (LOWER_LID_OVER * lid_own[:, None, None] - colour)
            grain = self._sample_lid(self.skin_grain, affine, pixels, down,
                                     below + torch.remainder(depth, (0.5 * b).clamp_min(1.0)))
            skin = colour + grain.clamp(-GRAIN_LIMIT, GRAIN_LIMIT)
            shadow = LOWER_LID_SHADOW + (1 - LOWER_LID_SHADOW) * overlays.smoothstep(0.0, 0.6 * height, depth)
            low_lid = overlays.eyelid(depth, height, skin * shadow[..., None])
            # Painted only as the upper lid comes near (from LOWER_LID_FROM of its way down): the mesh's lower margin
            # sits above the visible one, so painted while the eye is still open it drew a band of skin across the
            # bottom of the iris.
            closing = overlays.smoothstep(LOWER_LID_FROM, 1.0, closure[:, eye])[:, None, None]
            low_alpha = overlays.opening_alpha(u, depth, height, width) * closing
            # Both lids as one layer: where they meet (a closed eye) their soft edges add up to full cover, so
            # the closed lid is opaque skin along its lash line (pasted one after the other, a quarter of the eye
            # under the meeting line would show through).
            cover = lid_alpha + low_alpha
            lids = (lid_alpha[..., None] * lid + low_alpha[..., None] * low_lid) / cover.clamp_min(1e-6)[..., None]
            self._paste(rgb, box, lids, cover.clamp(0, 1))
            self._paste(rgb, box, lash_colour, lashes)

    def _margin_probe(self, eye: int):
        """What reading beyond one eye's lid margins in the source starts from: (upper margin [P, 2], the lower
        margin's inner points [P - 2, 2], the crease band (px), down [2], the colour of the skin under the eye at those
        points [P - 2, 3], steps of 0.5 px out to IRIS_MAX bands)."""
        t = self.topology
        upper = self.vertices[t.eye_upper[eye].to(self.device)]
        lower = self.vertices[t.eye_lower[eye, 1:-1].to(self.device)]
        band = (self.vertices[t.lid_crease[eye].to(self.device)] - upper[1:-1]).norm(dim=-1).median()
        down = overlays.down_axis(upper[None])[0]
        under = overlays.sample(self.skin_colour, (lower + down * UNDER_EYE_BANDS[1] * band)[None, None])[0, 0]
        steps = torch.arange(0.0, float(IRIS_MAX * band) + 1e-3, 0.5, device=self.device)
        return upper, lower, band, down, under, steps

    def _iris_under_margins(self) -> torch.Tensor:
        """[2, P] px by which the eye's dark (iris, pupil) reaches below each point of the mesh's lower-lid margin in
        the source, 0 at the corners: where the mesh puts the margin across the iris (infant_baby_turned's round
        eyes), what lies under it is warped as skin and showed as a dark crescent under a closed lid."""
        out = []
        for eye in range(2):
            upper, lower, band, down, under, steps = self._margin_probe(eye)
            luma = overlays.sample(self.image, (lower[None] + steps[:, None, None] * down)[None])[0] @ self._luma
            # Counted from a pixel under the margin (the margin itself may fall on its lashes' line or between rows).
            run = _run_length((luma < IRIS_DARK * (under @ self._luma).median()) | (steps < 1.0)[:, None])
            # Read in the middle of the eye (the least of its three middle points) and tapered to the corners: dark
            # toward a corner is lashes, liner or the corner's shadow, no iris (painted over with skin, a pale
            # crescent under the closed lid).
            middle = run.shape[0] // 2
            depth = run[middle - 1:middle + 2].min()
            taper = torch.sin(torch.pi * torch.linspace(0, 1, run.shape[0] + 2, device=self.device)).clamp_min(0)
            out.append(depth * taper)
        return torch.stack(out)

    def _sclera_over_margin(self) -> torch.Tensor:
        """[2] px by which the white of the eye reaches above each eye's upper-lid margin in the source: where the
        mesh draws the margin across the eye (painting_turned_girl's turned near eye), the white above it was taken
        for lid skin: a lowering lid left it standing above its inner corner, and the lid's colour was read from it
        (a grey-white lid)."""
        out = []
        for eye in range(2):
            upper, lower, band, down, under, steps = self._margin_probe(eye)
            skin_colour = overlays.saturation(under).median()
            if skin_colour < SCLERA_SKIN:
                out.append(torch.zeros((), device=self.device))
                continue
            rgb = overlays.sample(self.image, (upper[None, 1:-1] - steps[:, None, None] * down)[None])[0]  # [S, P, 3]
            white = ((rgb @ self._luma > SCLERA_BRIGHT * (under @ self._luma).median())
                     & (overlays.saturation(rgb) < SCLERA_GREY * skin_colour))
            # The margin is drawn across the eye as a whole: its white shows where the iris does not, but the lid's
            # edge lies above the iris as well. The most of it along the margin holds for the whole margin, the
            # corners included (the white stood as a wedge above the closed lid's inner corner).
            out.append(_run_length(white).max())
        return torch.stack(out)

    def _skin_under(self, affine: torch.Tensor, margin: torch.Tensor, down: torch.Tensor,
                    band: torch.Tensor, bands=UNDER_EYE_BANDS) -> torch.Tensor:
        """[T, 3] the skin's colour (no grain), per channel the median over `bands` crease bands `band` [T]
        below an open lower lid margin [T, P, 2] along down [T, 2], read through the eye's affine [T, 3, 2]."""
        points = torch.cat([margin + down[:, None] * (k * band)[:, None, None] for k in bands], 1)
        source = torch.einsum("tpi,tij->tpj", points, affine[:, :2]) + affine[:, None, 2]
        return overlays.sample(self.skin_colour, source[:, None])[:, 0].median(1).values

    def _brighter(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Per pixel, the brighter of two colours [T, h, w, 3], blended over a few levels of luma where they are
        close: a hard per-pixel choice draws a seam across the lid where the two swap."""
        t = overlays.smoothstep(-0.03, 0.03, (first - second) @ self._luma)[..., None]
        return second + t * (first - second)

    def _sample_lid(self, image: torch.Tensor, affine: torch.Tensor, pixels: torch.Tensor, down: torch.Tensor,
                    offset: torch.Tensor) -> torch.Tensor:
        """Colours [T, h, w, 3] of a source-layout image at pixels [h, w, 2] moved `offset` [T, h, w] px along
        down [T, 2] and mapped to the source by the eye's affine [T, 3, 2]."""
        moved = pixels[None] + down[:, None, None] * offset[..., None]
        return overlays.sample(image, torch.einsum("thwi,tij->thwj", moved, affine[:, :2]) + affine[:, None, None, 2])

    def _paint_mouth(self, rgb: torch.Tensor, vertices: torch.Tensor, reference: torch.Tensor | None) -> None:
        """Fill the opening between the driven inner lips (never the lips themselves)."""
        t = self.topology
        upper_i, lower_i = t.inner_lip_upper.to(self.device), t.inner_lip_lower.to(self.device)
        upper, lower = vertices[:, upper_i], vertices[:, lower_i]
        box = self._clip_to_head_box(overlays.union_box(torch.cat([upper, lower], 1), 3, self.width, self.height))
        if box is None:
            return
        pixels = overlays.pixel_centres(box, self.device)
        gain = overlays.opening_gain(upper, lower, self.vertices[upper_i], self.vertices[lower_i])  # [T]
        if reference is None:
            # Opened beyond the source or closed past it, the interior reaches over the lower lip's inner edge.
            closing = overlays.closing_gain(upper, lower, self.vertices[upper_i], self.vertices[lower_i])
            inset = mouth.lower_inset(self.mouth, gain, closing, (upper[:, -1] - upper[:, 0]).norm(dim=-1))
            upper, lower = overlays.smooth_row(upper), overlays.smooth_row(lower)
            around = self._colour_around(rgb, box, pixels, upper, lower)
            interior, alpha = mouth.interior(upper, lower, pixels, self.image, self.mouth, inset, gain, around)
        else:  # the Wav2Lip mouth where the driven mouth opens beyond the source's
            u, depth, height, width = overlays.mouth_coordinates(upper, lower, pixels)
            alpha = overlays.opening_alpha(u, depth, height, width) * gain[:, None, None]
            jaw_points = torch.cat([t.outer_lip_upper, t.inner_lip_upper]).to(self.device)
            affine = overlays.fit_affine(vertices[:, jaw_points], self.vertices[jaw_points])
            interior = self._sample_reference(reference, overlays.apply_affine(affine, pixels))
        self._paste(rgb, box, interior, alpha)

    def _colour_around(self, rgb: torch.Tensor, box: tuple, pixels: torch.Tensor, upper: torch.Tensor,
                       lower: torch.Tensor) -> torch.Tensor:
        """[T, h, w, 3] the colour of the warped frame rgb (head box) around the driven opening (inner lips upper,
        lower [T, P, 2]) near each pixel of box: its pixels outside the opening, blurred over AROUND_BLUR mouth widths
        (a normalised convolution); the lips' median colour where none are near."""
        x0, y0, w, h = box
        region = rgb[:, y0 - self.box[1]:y0 - self.box[1] + h, x0 - self.box[0]:x0 - self.box[0] + w]
        ring = torch.cat([upper, lower[:, 1:-1].flip(1)], 1)
        outside = (overlays.polygon_distance(ring, pixels) < -1.0).float()[:, None]  # [T, 1, h, w]
        sigma = max(AROUND_BLUR * float(self.mouth.width), 1.0)  # the source's: the same in every chunk
        # Summed alike in every frame (a constant motion gives identical frames whatever the chunks).
        blurred = overlays.gaussian_blur_each(torch.cat([region.permute(0, 3, 1, 2) * outside, outside], 1), sigma)
        total, weight = blurred[:, :3], blurred[:, 3:]
        lip = self.mouth.lip[None, :, None, None]
        return ((total + 0.02 * lip) / (weight + 0.02)).permute(0, 2, 3, 1)

    def _sample_reference(self, reference: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Sample mouth reference frames [T, h', w', 3] at output-px positions [T, h, w, 2]."""
        frames = reference.to(self.device, torch.float32).permute(0, 3, 1, 2)  # [T, 3, h', w']
        h_ref, w_ref = frames.shape[-2:]
        if (h_ref, w_ref) == tuple(self.face.image.shape[:2]) or (h_ref, w_ref) == (self.height, self.width):
            scale = torch.tensor([w_ref / self.width, h_ref / self.height], device=self.device)
            return overlays.sample(frames, positions * scale)
        # A square reference is the aligned face crop (what the Wav2Lip node renders), at any resolution.
        m = self.source.crop_to_output.to(self.device)
        crop = torch.einsum("thwi,ij->thwj", positions - m[:, 2], torch.linalg.inv(m[:, :2]).T)
        return overlays.sample(frames, crop * (w_ref / self.face.crop_size))


def check_reference(reference: torch.Tensor | None, face: Face, num_frames: int) -> None:
    """Raise ValueError if a mouth reference batch cannot go with these frames."""
    if reference is None:
        return
    if reference.ndim != 4 or reference.shape[-1] != 3:
        raise ValueError(f"mouth_reference: expected an IMAGE batch [T, H, W, 3], got {tuple(reference.shape)}")
    if reference.shape[0] != num_frames:
        raise ValueError(f"mouth_reference: {reference.shape[0]} frames but the motion has {num_frames}; "
                         f"make the Wav2Lip reference from the same audio features as the motion")
    h, w = reference.shape[1:3]
    if (h, w) != tuple(face.image.shape[:2]) and h != w:
        raise ValueError(f"mouth_reference: frames of {w}x{h} are neither the source image "
                         f"({face.image.shape[1]}x{face.image.shape[0]}) nor a square face crop; connect the "
                         f"Wav2Lip node's output directly")


def render_chunks(face: Face, motion: Motion, options: RenderOptions, reference: torch.Tensor | None = None):
    """Yield (start, rgb [t, h, w, 3], mask [t, h, w], renderer) per chunk of frames, with progress and cancel.

    The head box is renderer.box; the rest of each frame is the source image (renderer.image).
    """
    if motion.space != face.space:
        raise ValueError(f"motion: space {motion.space!r} does not match the face's {face.space!r}; "
                         f"sample the motion from this face")
    check_reference(reference, face, motion.num_frames)
    renderer = FlowRenderer(face, options)
    T = motion.num_frames
    log.info("flow render: %d frames at %dx%d on %s (head box %dx%d, flow grid %dx%d)", T, renderer.width,
             renderer.height, renderer.device, renderer.box[2], renderer.box[3], renderer.grid.width,
             renderer.grid.height)
    progress = comfy_adapter.Progress(T)
    chunk = chunk_frames(options.chunk_size, renderer.device, renderer.box[2] * renderer.box[3])
    workers = render_workers(renderer.device)
    threads = options.cpu_threads if renderer.device.type == "cpu" else 0
    # One chunk at a time: torch's thread count is set around each render, and the caller's work between chunks
    # keeps its own. Several: chunks render while the caller works, so it is set once for the whole loop.
    per_chunk, whole = (threads, 0) if workers == 1 else (0, threads)

    def render(start: int) -> tuple[torch.Tensor, torch.Tensor]:
        stop = min(start + chunk, T)
        ref = None if reference is None else reference[start:stop]
        with _cpu_threads(per_chunk):
            return renderer.render(motion.expression[start:stop], motion.pose[start:stop],
                                   motion.eye_closure[start:stop], ref)

    with _cpu_threads(whole):
        for start, (rgb, mask) in _in_order(render, range(0, T, chunk), workers):
            yield start, rgb, mask, renderer
            progress.update(rgb.shape[0], preview=_full_frame(renderer, rgb[-1], mask[-1]))


CPU_CHUNK_FRAMES = 8
# On a CPU, chunks rendered at once unless MODIT_CPU_RENDER_WORKERS says otherwise. 2 renders two chunks on threads
# of their own (each with cpu_threads torch threads): a chunk's ops are small and leave a core waiting between them.
# Measured with bench/bench_end_to_end.py on a 2-core CPU, alternating with 1: 10 s at 1024 px render + encode
# 0.86-1.02 against 1.27-1.39 s per second of video; at 512 px 0.34-0.52 against 0.41-0.63; 10 minutes at 512 px
# RTF 0.53-0.58 against 0.70; the frames bit for bit the same. Not the default because a long clip's memory grows:
# the second chunk in flight adds 70-250 MiB, and the heap settles higher on a long run than on a short one (10
# minutes at 512 px 613-674 MiB against 552-588 for 10 s, 1.10-1.15x; 1 reads 1.07x).
CPU_RENDER_WORKERS = 1
WORKERS_VARIABLE = "MODIT_CPU_RENDER_WORKERS"
# On a GPU: up to 64 frames of a 512 px head box per chunk (~7k ops per chunk at any length made 8-frame chunks
# launch-bound on an H200: 7 ms per frame), fewer for larger boxes so a chunk's temporaries stay near 1 GB
# (~72 bytes per box pixel and frame, measured on the CPU).
GPU_CHUNK_PIXELS = 64 * 512 * 512
GPU_CHUNK_FRAMES = (CPU_CHUNK_FRAMES, 64)


def chunk_frames(chunk_size: int, device: torch.device, box_pixels: int) -> int:
    """Frames per render chunk: chunk_size if set (> 0), else the device's default for a head box of that area."""
    if chunk_size > 0:
        return int(chunk_size)
    if device.type == "cpu":
        return CPU_CHUNK_FRAMES
    low, high = GPU_CHUNK_FRAMES
    return max(low, min(high, GPU_CHUNK_PIXELS // max(box_pixels, 1)))


def requested_render_workers() -> int:
    """Chunks at once that MODIT_CPU_RENDER_WORKERS asks for (CPU_RENDER_WORKERS when unset). Raises ValueError on a
    value that is not a whole number of 1 or more, naming the variable; the CLI calls it before any work starts."""
    raw = (os.environ.get(WORKERS_VARIABLE) or "").strip()
    if not raw:
        return CPU_RENDER_WORKERS
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ValueError(f"{WORKERS_VARIABLE}={raw!r}: expected a whole number of 1 or more (1, the default, renders "
                         f"one chunk at a time; 2 renders two at once on a CPU, faster and with more memory)")
    return workers


def render_workers(device: torch.device) -> int:
    """Chunks rendered at once: on a CPU, requested_render_workers() up to the cores this process may use; on a GPU
    1 (the device already runs one chunk's ops in parallel)."""
    if device.type != "cpu":
        return 1
    workers = requested_render_workers()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(workers, cores)


def _in_order(work, items, workers: int):
    """Yield (item, work(item)) for each item, in order; with workers > 1, up to that many calls run ahead on threads.
    Closing the generator (an error or Cancel in the caller) drops the calls not yet started and waits for the
    running ones."""
    if workers <= 1:
        yield from ((item, work(item)) for item in items)
        return
    items = iter(items)
    with ThreadPoolExecutor(workers, thread_name_prefix="modit-render") as pool:
        pending = collections.deque((item, pool.submit(work, item)) for item in itertools.islice(items, workers))
        try:
            while pending:
                item, future = pending.popleft()
                result = future.result()
                pending.extend((following, pool.submit(work, following)) for following in itertools.islice(items, 1))
                yield item, result
        finally:
            for _, future in pending:
                future.cancel()


@contextlib.contextmanager
def _cpu_threads(threads: int):
    """Run the block with `threads` torch CPU threads (0 = unchanged), then restore the previous count."""
    previous = torch.get_num_threads()
    if threads > 0 and threads != previous:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def _run_length(hit: torch.Tensor) -> torch.Tensor:
    """[P] px over which hit [S, P] (samples 0.5 px apart from a margin outward, per margin point) holds from the
    first sample on; 0 where that is a pixel or less (a lash's or a catchlight's edge)."""
    run = hit.long().cumprod(0).sum(0) * 0.5
    return torch.where(run > 1.0, run, torch.zeros_like(run))


def arch_at(u: torch.Tensor) -> torch.Tensor:
    """The lid lift's profile across the eye (0 at the corners, 1 in the middle) at mouth-frame u."""
    return torch.sin(math.pi * u.clamp(0, 1))


def _full_frame(renderer: FlowRenderer, rgb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One full output frame [H, W, 3] from a head-box frame (for previews)."""
    frame = renderer.image[0].permute(1, 2, 0).clone()
    x0, y0, w, h = renderer.box
    region = frame[y0:y0 + h, x0:x0 + w]
    region += mask[..., None] * (rgb - region)
    return frame


def render_frames(face: Face, motion: Motion, options: RenderOptions,
                  reference: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """All frames: (IMAGE [T, H, W, 3], MASK [T, H, W]) on the intermediate device and dtype.

    Outside the head box frames are the (resized) source; inside, source + mask * (render - source), so a
    pixel with mask 0 is exactly the source's.
    """
    device, dtype = comfy_adapter.intermediate_device(), comfy_adapter.intermediate_dtype()
    frames = masks = None
    for start, rgb, mask, renderer in render_chunks(face, motion, options, reference):
        if frames is None:
            source = renderer.image[0].permute(1, 2, 0).to(device, dtype)  # [H, W, 3]
            frames = source.expand(motion.num_frames, -1, -1, -1).clone()
            masks = torch.zeros(motion.num_frames, renderer.height, renderer.width, device=device, dtype=dtype)
            x0, y0, w, h = renderer.box
            src_box = renderer.image[0, :, y0:y0 + h, x0:x0 + w].permute(1, 2, 0)  # [h, w, 3]
        stop = start + rgb.shape[0]
        blended = src_box + mask[..., None] * (rgb - src_box)
        frames[start:stop, y0:y0 + h, x0:x0 + w] = blended.to(device, dtype)
        masks[start:stop, y0:y0 + h, x0:x0 + w] = mask.to(device, dtype)
    return frames, masks
