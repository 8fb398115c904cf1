"""The mouth and the still parts (issue 15): lips that move as lips, an interior only in their gap, masks that
follow the face, an exact closed-mouth round trip, and eyes and nose that never shimmer."""
import dataclasses
import os

import pytest
import torch

from comfyui_modit.modit.render.flow import Grid, backward_flow
from comfyui_modit.modit.render.geometry import drive_landmarks, driven_vertices, inner_lip_gaps
from comfyui_modit.modit.render.renderer import FlowRenderer, RenderOptions, render_frames
from comfyui_modit.modit.render.topology import render_topology
from comfyui_modit.modit.render import geometry, mouth, overlays
from comfyui_modit.modit.types import Face, Motion

from .astronaut import analyse, astronaut_image, make_face

FACES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "faces")
GALLERY = ("older_woman_talking_teeth_earrings.png",  # parted lips, teeth
           "full_beard_man_closed_lips.jpg",  # closed lips under a moustache
           "lowres_dark_skin_moustache_man.jpg")  # 224 px, lips parted
JAW, BROW_RAISE = 0, 9


@pytest.fixture(scope="module")
def astronaut_face():
    return make_face(512)


@pytest.fixture(scope="module")
def synthetic_faces(astronaut_face):
    """Several sources built from the bundled portrait: as is, mirrored, smaller and darker, warmer and dimmer."""
    image = astronaut_image(512)
    small = torch.nn.functional.interpolate(image.permute(2, 0, 1)[None], size=(384, 384), mode="bilinear",
                                            antialias=True, align_corners=False)[0].permute(1, 2, 0)
    return [astronaut_face, analyse(image.flip(1).contiguous()),
            analyse((small * torch.tensor([0.55, 0.45, 0.4])).clamp(0, 1)),
            analyse((image * torch.tensor([0.9, 0.75, 0.6]) + 0.05).clamp(0, 1))]


def gallery_face(name: str, max_side: int = 384) -> Face:
    path = os.path.join(FACES, name)
    if not os.path.exists(path):
        pytest.skip(f"gallery face {name} not found under ../shared/data/faces (read-only shared data)")
    import numpy as np
    from PIL import Image

    image = Image.open(path).convert("RGB")
    scale = max_side / max(image.size)
    if scale < 1:
        image = image.resize((round(image.size[0] * scale), round(image.size[1] * scale)), Image.LANCZOS)
    return analyse(torch.from_numpy(np.array(image)).float() / 255)


def motion(face, jaw=None, brow=None, closure=0.0, yaw=0.0, dtype=torch.float32):
    """Frames of the face's own expression with absolute jaw_open / brow_raise offsets from beta_0."""
    jaw = torch.as_tensor([0.0] if jaw is None else jaw, dtype=torch.float32)
    T = jaw.shape[0]
    expression = face.beta_0.float().repeat(T, 1)
    expression[:, JAW] += jaw
    if brow is not None:
        expression[:, BROW_RAISE] += torch.as_tensor(brow, dtype=torch.float32)
    pose = torch.zeros(T, 6)
    pose[:, 0] = torch.as_tensor(yaw, dtype=torch.float32)
    eyes = torch.zeros(T, 2) + torch.as_tensor(closure, dtype=torch.float32).reshape(-1, 1)
    return Motion(expression.to(dtype), pose.to(dtype), eyes.to(dtype), 25.0, face.space)


def image_xy(face, indices):
    m = face.crop_to_image.float()
    return face.landmarks[indices, :2] @ m[:, :2].T + m[:, 2]


def box_around(face, indices, pad):
    xy = image_xy(face, indices)
    low, high = xy.min(0).values, xy.max(0).values
    H, W = face.image.shape[:2]
    return (max(int(low[0]) - pad, 0), max(int(low[1]) - pad, 0), min(int(high[0]) + pad + 1, W),
            min(int(high[1]) + pad + 1, H))


# ------------------------------------------------------------------------------------------ mask geometry


def assert_follows_the_face(mask: torch.Tensor, name: str, max_step: float):
    """A soft region that is no box: feathered (no jump above max_step between neighbours), not filling its
    bounding box, and touching each side of that box only along a short stretch (a box edge runs the full side)."""
    assert torch.isfinite(mask).all()
    steps = torch.cat([(mask[1:] - mask[:-1]).abs().flatten(), (mask[:, 1:] - mask[:, :-1]).abs().flatten()])
    assert steps.max() <= max_step, f"{name}: hard edge, step {float(steps.max()):.2f}"
    inside = mask > 0.5
    ys, xs = torch.nonzero(inside, as_tuple=True)
    assert len(ys) > 20, f"{name}: empty"
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())
    box = inside[y0:y1 + 1, x0:x1 + 1].float()
    assert box.mean() < 0.88, f"{name}: fills {float(box.mean()):.2f} of its bounding box (a rectangle fills 1)"
    for side, line in (("top", box[0]), ("bottom", box[-1]), ("left", box[:, 0]), ("right", box[:, -1])):
        assert line.mean() < 0.6, f"{name}: a straight {side} edge along {float(line.mean()):.2f} of the box side"


@pytest.mark.parametrize("jaw", [0.4, 1.0])
def test_mouth_interior_mask_follows_the_lips(astronaut_face, jaw):
    renderer = FlowRenderer(astronaut_face, RenderOptions())
    t = renderer.topology
    landmarks = drive_landmarks(astronaut_face, motion(astronaut_face, [jaw]).expression, torch.zeros(1, 6), t)
    vertices, _ = driven_vertices(landmarks, renderer.source, t)
    upper, lower = vertices[:, t.inner_lip_upper], vertices[:, t.inner_lip_lower]
    box = overlays.union_box(torch.cat([upper, lower], 1), 3, renderer.width, renderer.height)
    pixels = overlays.pixel_centres(box, renderer.device)
    rgb, alpha = mouth.interior(upper, lower, pixels, renderer.image, renderer.mouth)
    assert torch.isfinite(rgb).all() and rgb.min() >= 0
    assert_follows_the_face(alpha[0], f"interior at jaw +{jaw}", max_step=0.85)
    # It contains the opening: full cover halfway between the middle of the inner lips.
    centre = (upper[0, 5] + lower[0, 5]) / 2 - torch.tensor([box[0], box[1]])
    assert alpha[0, int(centre[1]), int(centre[0])] > 0.95
    # ... and nothing above the upper lip or below the lower lip (the lips themselves are never painted).
    for point, step in ((upper[0, 5], -3), (lower[0, 5], 3)):
        y, x = int(point[1] - box[1]) + step, int(point[0] - box[0])
        assert alpha[0, y, x] < 0.05, f"interior paints over the lip at {step:+d} px"


def test_lip_flow_weight_covers_the_mouth_not_the_eyes(astronaut_face):
    renderer = FlowRenderer(astronaut_face, RenderOptions())
    t = renderer.topology
    weight = renderer.mouth_weight
    assert (weight[torch.cat([t.inner_lip_upper, t.inner_lip_lower, t.outer_lip_upper])] > 0.99).all()
    assert (weight[torch.cat([t.eye_upper.flatten(), t.eye_lower.flatten()])] == 0).all()
    assert (weight[[6, 168, 197]] == 0).all(), "the nose bridge is outside the lips' patch"
    assert (weight[t.ring_a] == 0).all() and (weight[t.ring_b] == 0).all()
    # Rasterised, the weight is a soft oval around the mouth.
    box = overlays.union_box(renderer.vertices[renderer.mouth_triangles.unique()], 1, renderer.width,
                             renderer.height)
    grid = Grid(*box, box[2], box[3])
    _, value = backward_flow(renderer.vertices[None], renderer.source.depth[None], renderer.vertices, weight,
                             renderer.mouth_triangles, grid)
    assert_follows_the_face(value[0], "lip flow weight", max_step=0.2)


def test_paste_back_mask_follows_the_head(astronaut_face):
    frames, masks = render_frames(astronaut_face, motion(astronaut_face, [0.5], yaw=0.1), RenderOptions())
    assert_follows_the_face(masks[0], "paste-back mask", max_step=0.2)


# ---------------------------------------------------------------------------------- closed-mouth round trip


def test_zero_motion_is_the_source_on_several_faces(synthetic_faces):
    for k, face in enumerate(synthetic_faces):
        frames, _ = render_frames(face, motion(face, [0.0]), RenderOptions())
        error = (frames[0] - face.image).abs()
        assert error.max() < 2 / 255, f"face {k}: zero motion differs from the source by {float(error.max()):.4f}"


@pytest.mark.parametrize("name", GALLERY)
def test_zero_motion_is_the_source_on_gallery_faces(name):
    face = gallery_face(name)
    frames, _ = render_frames(face, motion(face, [0.0]), RenderOptions())
    error = (frames[0] - face.image).abs()
    assert error.max() < 2 / 255, f"{name}: zero motion differs from the source by {float(error.max()):.4f}"


def test_closing_returns_to_the_source_lips(synthetic_faces):
    """Open, closed, half, closed in one chunk: the closed frames are the source around the mouth: no seam."""
    for k, face in enumerate(synthetic_faces[:2]):
        frames, _ = render_frames(face, motion(face, [0.9, 0.0, 0.4, 0.0]), RenderOptions(chunk_size=4))
        x0, y0, x1, y1 = box_around(face, [61, 291, 0, 17], pad=12)
        for i in (1, 3):
            error = (frames[i, y0:y1, x0:x1] - face.image[y0:y1, x0:x1]).abs()
            assert error.max() < 2 / 255, f"face {k} frame {i}: {float(error.max()):.4f}"
        assert (frames[0, y0:y1, x0:x1] - face.image[y0:y1, x0:x1]).abs().max() > 0.2, "the mouth should open"


@pytest.mark.parametrize("name", GALLERY[:2])
def test_lips_never_cross_when_closing_a_parted_mouth(name):
    """Closing far below the source's own opening stops where the inner lips meet (no fold, no torn edges)."""
    face = gallery_face(name)
    t = render_topology()
    landmarks = drive_landmarks(face, motion(face, [-1.0, -0.5, 0.0]).expression, torch.zeros(3, 6), t)
    gaps = inner_lip_gaps(landmarks, t)
    floor = inner_lip_gaps(face.landmarks[None].float(), t).clamp(max=0)
    assert (gaps >= floor - 1e-3).all(), gaps.min(1).values.tolist()
    # The lip line itself (no tearing): rows between the meeting lips vary smoothly along the mouth.
    frames, _ = render_frames(face, motion(face, [-1.0]), RenderOptions())
    assert torch.isfinite(frames).all()


# ------------------------------------------------------------------------------------ lips move as lips


def vertical_shift(before: torch.Tensor, after: torch.Tensor, box, search: int = 24) -> tuple[int, float]:
    """(dy, mean abs difference) of the best match of before's patch `box` in after, searching dy."""
    x0, y0, x1, y1 = box
    patch = before[y0:y1, x0:x1]
    best = None
    for dy in range(-search, search + 1):
        if y0 + dy < 0 or y1 + dy > after.shape[0]:
            continue
        diff = float((after[y0 + dy:y1 + dy, x0:x1] - patch).abs().mean())
        if best is None or diff < best[1]:
            best = (dy, diff)
    return best


def test_lower_lip_texture_moves_down_with_the_jaw(astronaut_face):
    face = astronaut_face
    frames, _ = render_frames(face, motion(face, [0.6]), RenderOptions())
    t = render_topology()
    landmarks = drive_landmarks(face, motion(face, [0.6]).expression, torch.zeros(1, 6), t)
    m = face.crop_to_image.float()
    moved = (landmarks[0, :, :2] - face.landmarks[:, :2]) @ m[:, :2].T  # [468, 2] image px
    # Lower lip: the outer two thirds of the band between the inner and outer lower lip, centre third.
    inner, outer = image_xy(face, [87, 14, 317]), image_xy(face, [84, 17, 314])
    band = inner + 0.35 * (outer - inner)
    lower = (int(band[:, 0].min()), int(band[:, 1].min()) + 1, int(band[:, 0].max()) + 1, int(outer[:, 1].max()) + 1)
    dy, diff = vertical_shift(face.image, frames[0], lower)
    expected = float(moved[[14, 17, 87, 317, 84, 314], 1].mean())
    assert expected > 4, "the test motion should move the lower lip"
    assert abs(dy - expected) <= 2, (dy, expected)
    assert diff < 0.04, f"the lower lip's own texture should move, not be painted over (diff {diff:.3f})"
    # The upper lip moves far less, and the nose not at all.
    upper = box_around(face, [37, 0, 267, 82, 13, 312], pad=0)
    dy_upper, _ = vertical_shift(face.image, frames[0], upper)
    assert abs(dy_upper) <= max(1, 0.25 * expected), dy_upper
    nose = box_around(face, [1, 4, 5, 45, 275], pad=2)
    x0, y0, x1, y1 = nose
    assert (frames[0, y0:y1, x0:x1] - face.image[y0:y1, x0:x1]).abs().max() < 2 / 255


# ------------------------------------------------------------------------------------------------ stability


def test_expression_leaves_eyes_and_nose_still(astronaut_face):
    """Brow and jaw changes at a still head: the eyes, the nose ridge and the nostril wings are the source's pixels
    exactly."""
    face = astronaut_face
    frames, _ = render_frames(face, motion(face, [0.8, 0.3, 0.0], brow=[0.8, -0.5, 0.6]), RenderOptions())
    for indices in ([33, 133, 159, 145, 160, 144], [362, 263, 386, 374, 387, 373], [6, 197, 195, 5],
                    [129, 98], [358, 327]):  # eyes, nose ridge, nostril wings
        x0, y0, x1, y1 = box_around(face, indices, pad=1)
        error = (frames[:, y0:y1, x0:x1] - face.image[y0:y1, x0:x1]).abs().amax()
        assert error < 2 / 255, (indices, float(error))


def test_fp16_motion_at_the_extremes_is_finite(astronaut_face):
    face = Face(**{**{f: getattr(astronaut_face, f) for f in astronaut_face.__dataclass_fields__},
                   "image": astronaut_face.image.half()})
    m = motion(face, [-1.5, 0.0, 1.2, 2.0], brow=[1.0, 0.0, -1.0, 0.5], closure=[1.0, 0.0, 0.5, 1.0],
               yaw=[0.3, 0.0, -0.3, 0.1], dtype=torch.float16)
    frames, masks = render_frames(face, m, RenderOptions())
    assert torch.isfinite(frames).all() and torch.isfinite(masks).all()
    assert frames.min() >= 0 and frames.max() <= 1


def test_untangle_unfolds_the_lips_and_keeps_a_fold_free_mesh(astronaut_face):
    """Coefficients far outside what the basis can bend this face into (as the DiT often samples) fold skin
    triangles around the lips; untangling opens most of them again and leaves a fold-free mesh untouched."""
    from comfyui_modit.modit.face.driving import driven_landmarks
    from comfyui_modit.modit.render.geometry import _signed_areas, untangle

    face, t = astronaut_face, render_topology()
    extreme = torch.tensor([[0.75, -0.86, 0.65, 0.0, 0.0, 0.27, -0.14, 0.91, 0.0, 0.0, 0.0, 0.0],
                            [-0.3, 1.6, -0.8, 0.9, 0.0, -0.8, 0.8, -1.0, 0.5, 0.0, 0.0, 0.0]])
    pose = torch.zeros(2, 6)
    driven = driven_landmarks(face, extreme, pose).float()
    still = driven_landmarks(face, face.beta_0.float().expand(2, -1), pose).float()

    def folds(mesh):
        rest = _signed_areas(still[..., :2], t.skin_triangles)
        area = _signed_areas(mesh[..., :2], t.skin_triangles)
        return int(((area * rest.sign() < 0.05 * rest.abs()) & (rest.abs() > 1e-3)).sum())

    before = folds(driven)
    assert before > 10, "the test expression should fold the mesh"
    after = folds(untangle(driven, still, face.neutral_mesh.float(), t))
    assert after <= 0.4 * before, (before, after)
    assert torch.equal(untangle(still, still, face.neutral_mesh.float(), t), still)


def test_chunking_does_not_change_frames():
    """The lips' grid sits on one lattice whatever a chunk's box, so chunk boundaries cannot flicker (a 1024 px
    source, where a cell spans more than one pixel)."""
    face = make_face(1024)
    assert FlowRenderer(face, RenderOptions()).mouth_step > 1
    m = motion(face, [0.0, 0.9, 0.2, -0.4, 0.6, 0.1])
    a, _ = render_frames(face, m, RenderOptions(chunk_size=2))
    b, _ = render_frames(face, m, RenderOptions(chunk_size=5))
    # Equal up to float rounding of the batched geometry (1e-5 px), which a few edge pixels amplify.
    assert (a - b).abs().mean() < 1e-5 and (a - b).abs().max() < 0.02


# ------------------------------------------------------------------------------------------------ interior colour


def _flat_source(lip: torch.Tensor | None = None, image: torch.Tensor | None = None) -> mouth.SourceMouth:
    """The source mouth of a flat grey portrait (skin luma 0.6; `image` [1, 3, 160, 160] instead, where given) whose
    inner lips lie together on one straight row 80 px wide, in `lip`'s colour (default a pink [0.55, 0.3, 0.3])."""
    image = torch.full((1, 3, 160, 160), 0.6) if image is None else image
    lip = torch.tensor([0.55, 0.3, 0.3]) if lip is None else lip
    upper = torch.stack([torch.linspace(40, 120, 11), torch.full((11,), 80.0)], -1)
    return mouth.source_mouth(image, upper, upper.clone(), lip, torch.tensor(0.6))


def _synthetic_interior(image: torch.Tensor, lip: torch.Tensor) -> torch.Tensor:
    """The synthesised interior of a closed source mouth opened wide, [T, h, w, 3]."""
    source = _flat_source(lip, image)
    u = torch.linspace(0, 1, 40)[None, None, :].expand(1, 30, 40)
    depth = torch.linspace(0, 30, 30)[None, :, None].expand(1, 30, 40)
    return mouth._synthetic(u, depth, torch.full_like(u, 30.0), torch.tensor([[[80.0]]]), source)


def test_lip_rows_are_drawn_as_curves_through_their_points():
    """The interior's edge follows a curve through the mesh's lip points (a wide opening's 11 points drew a V), so
    it passes through every point, keeps the corners and bends no more than the points do."""
    lower = torch.stack([torch.linspace(0, 100, 11), 30 * torch.sin(torch.linspace(0, torch.pi, 11))], -1)
    curve = overlays.smooth_row(lower[None], steps=4)[0]
    assert curve.shape == (41, 2)
    assert torch.allclose(curve[::4], lower, atol=1e-4)  # through every point, corners included
    turn = lambda row: (row[2:] - 2 * row[1:-1] + row[:-2]).norm(dim=-1)  # noqa: E731
    assert turn(curve).max() < 0.5 * turn(lower).max()  # the polygon's corners are rounded off
    assert curve[:, 1].max() <= lower[:, 1].max() + 0.5


def test_teeth_are_separate_and_lower_teeth_no_thin_line():
    """Generic upper teeth are teeth, not a bar: brightness dips between them along the row, and their lower edge is
    scalloped even in the middle of the mouth. Lower teeth show on a wide opening, and wherever they show they are
    a few px tall (a thinner strip of them reads as a grey wire along the lower lip). A medium opening shows them
    too, as real speakers' do (bench/mouth_interior.py); a narrow one does not."""
    source = _flat_source()
    W = torch.tensor([[[80.0]]])
    u = torch.linspace(0.02, 0.98, 300)[None, None, :].expand(1, 120, 300)
    depth = torch.linspace(0, 30, 120)[None, :, None].expand(1, 120, 300)  # 4 rows per px
    y = luma(mouth._synthetic(u, depth, torch.full_like(u, 30.0), W, source)[0])  # opening 0.375 mouth widths
    middle = (u[0, 0] > 0.4) & (u[0, 0] < 0.6)
    bright = y > 0.5 * y[:20].max()
    row = y[8, middle]  # across the upper teeth
    assert row.max() - row.min() > 0.03, "brightness dips at the gaps between the teeth"
    # Softly: real speakers' teeth read as a lit row with faint gaps (the 14 real clips by eye at their 256 px);
    # dipping 0.3 of a tooth's light at each gap, generic teeth read as a comb of separate blocks.
    assert (row.max() - row.min()) / row.max() < 0.2, "the gaps between the teeth are faint, not a comb"
    reach = bright[:60, middle].float().sum(0)  # per column, how far down the upper teeth reach (rows)
    assert reach.max() - reach.min() >= 2, "the teeth's edge is scalloped, not ruler-straight"
    for opening in (0.08, 0.15, 0.3, 0.5):  # narrow, medium, wide, wide
        height = opening * 80.0
        below = torch.linspace(0, height, 120)[None, :, None].expand(1, 120, 300)
        cover, _ = mouth.lower_teeth(u, below, torch.full_like(u, height), W)
        drawn = (cover[0] > 0.5).float().sum(0) * height / 120  # px of lower teeth per column
        assert ((drawn == 0) | (drawn >= 2.0)).all(), (opening, drawn.unique().tolist())
        assert (drawn.max() > 0) == (opening > 0.1), (opening, float(drawn.max()))


def test_generic_upper_teeth_show_their_edges_not_a_wall(monkeypatch):
    """Weighed person by person (bench/mouth_interior.py --every-clip, 42 real clips that open that far), a medium
    opening (the meter's 0.16-0.26 inter-ocular distances) reads 0.61-0.69 of the skin's luma all the way down: the
    upper teeth show as a lit edge under the upper lip, over a shaded mouth. Generic upper teeth hanging to 0.65 of
    the opening filled it with teeth (0.99 of the skin's luma inside on the 22 closed-lip gallery faces: a grille of
    clenched teeth by eye). They end above the middle of a medium opening, yet still show (a few px under the lip's shade), and on a
    wide opening stay a tooth's edge. (The lower teeth are left out, to see where the upper ones end.)"""
    monkeypatch.setattr(mouth, "lower_teeth", lambda u, *args, **kwargs: (torch.zeros_like(u), torch.ones_like(u)))
    source = _flat_source()
    W = torch.tensor([[[80.0]]])

    def reach(opening: float) -> float:  # mouth widths down the middle column to where the upper teeth end
        height = opening * 80.0
        u = torch.full((1, 200, 1), 0.5 + 0.5 * mouth.UPPER_TOOTH)  # through a central incisor's middle
        depth = torch.linspace(0, height, 200)[None, :, None]
        column = luma(mouth._synthetic(u, depth, torch.full_like(u, height), W, source)[0])[:, 0]
        peak = int(column[:100].argmax())
        end = peak + int((column[peak:] < 0.75 * column[peak]).float().argmax())
        return end / 200 * opening

    assert 0.2 * 0.2 < reach(0.2) < 0.5 * 0.2, f"upper teeth end at {reach(0.2) / 0.2:.2f} of a medium opening"
    assert reach(0.45) < 0.1, f"upper teeth {reach(0.45):.3f} mouth widths long on a wide opening"


def test_generic_upper_teeth_in_speech_are_in_the_upper_lips_shade_not_a_white_band(monkeypatch):
    """In speech the upper lip and the palate shade the upper teeth. Clip by clip over 38 real talking clips that open
    that far, 0.12 of the way down a medium opening (under the upper inner lip, where teeth show) reads a median 0.68
    of the skin's luma, the brightest tenth of the opening 0.91 (bench/mouth_interior.py, each clip's real video
    against our render of its first frame). Generic upper teeth lit like a smile's (1.05 of the skin's luma) read
    0.9-1.1 there on most closed-lip sources: a white band across every opening. Lit at UPPER_TEETH_LIT they are
    still teeth, brighter than the mouth around them, not a grey hole."""
    monkeypatch.setattr(mouth, "lower_teeth", lambda u, *args, **kwargs: (torch.zeros_like(u), torch.ones_like(u)))
    source = _flat_source()
    W, skin = torch.tensor([[[80.0]]]), float(source.skin_luma)
    height = 0.22 * 80.0  # a medium opening
    u = torch.full((1, 100, 1), 0.5 + 0.5 * mouth.UPPER_TOOTH)  # through a central incisor's middle
    depth = torch.linspace(0, height, 100)[None, :, None]
    column = luma(mouth._synthetic(u, depth, torch.full_like(u, height), W, source)[0])[:, 0] / skin
    teeth, below = float(column[:30].max()), float(column[45:70].median())
    assert 0.65 < teeth < 0.9, f"upper teeth at {teeth:.2f} of the skin's luma"
    assert teeth > 1.2 * below, f"teeth {teeth:.2f} over the mouth below them {below:.2f}"


def test_lower_teeth_fade_into_the_corners_not_a_block_with_square_ends():
    """The lower row turns away into the mouth's shadow toward the corners: across the mouth its cover falls off
    over several px and its shade darkens on the way (cut off where it fell under 2 px tall, the row ended in a
    square step either side, a block pasted on the lower lip)."""
    W, height = torch.tensor([[[80.0]]]), 24.0  # a medium-to-wide opening, 0.3 mouth widths
    u = torch.linspace(0.0, 1.0, 801)[None, None, :]  # 10 samples per px
    below = torch.full_like(u, 1.0)  # 1 px above the lower lip, inside the row wherever it is drawn
    cover, shade = mouth.lower_teeth(u, below, torch.full_like(u, height), W)
    cover, shade = cover[0, 0], shade[0, 0]
    assert cover[400] > 0.95 and cover[0] == 0 and cover[-1] == 0
    per_px = (cover[10:] - cover[:-10]).abs().max()
    assert per_px < 0.2, f"the row's ends fall off over several px, not in a step ({per_px:.2f} per px)"
    drawn = cover > 0.5
    assert 0.3 < drawn.float().mean() < 0.6, "narrower than the upper arch, wider than a block of four teeth"
    ends = torch.nonzero(drawn)[[0, -1], 0]
    assert (shade[ends] < 0.85 * shade[400]).all(), "darker toward the corners than in front"


def test_lower_teeth_are_a_row_of_flat_edged_teeth_large_and_one_band_small():
    """Lower incisors have nearly flat biting edges that meet in small notches; drawn with tops rounded a fifth of
    their height down to each gap and a dark line between each two, a large sharp portrait's lower row read as a
    grille of tombstones (large_elderly_man_closed_smile at 512 px). Where the mouth is small, teeth 6 px wide with a
    dark line between each two drew a grille under the tongue (May_5s at 256 px): there the row is one band."""
    u = torch.linspace(0.4, 0.6, 1001)[None, None, :]  # the middle teeth, before the row turns into the corners

    def row(width: float, rows: int = 400) -> tuple[torch.Tensor, torch.Tensor]:
        W = torch.tensor([[[width]]])
        height = 0.45 * width  # wide open: the row at its full height
        below = torch.linspace(0, 0.12 * width, rows)[None, :, None].expand(1, rows, u.shape[-1])
        cover, shade = mouth.lower_teeth(u.expand(1, rows, -1), below, torch.full_like(below, height), W)
        return cover[0], shade[0]

    cover, shade = row(300.0)  # teeth 22 px wide
    tops = cover.gt(0.5).sum(0).float()  # each column's height, in rows
    middle = tops[tops > 0.5 * tops.max()]
    dip = 1 - middle.min() / middle.max()
    assert 0.04 < dip < 0.15, f"nearly flat edges with a small notch at each gap: {dip:.2f} of the height"
    halfway = shade[100][cover[100] > 0.99]  # a quarter of the way up the row
    assert halfway.max() - halfway.min() > 0.05, "large, each tooth shows"
    cover, shade = row(80.0)  # teeth 6 px wide
    halfway = shade[100][cover[100] > 0.99]
    assert halfway.max() - halfway.min() < 0.03, "small, one band: no line between each two"


def test_lower_teeth_show_in_front_of_the_lower_lips_inner_edge():
    """On a wide opening the lower teeth stand from the lower lip's edge up, a few px tall: the lip edge's shade
    is behind them, not over them (over them only the teeth's tips showed, a row of pale dots), nor a shadow line
    between them and the lip (a dark line under a pale row: a zipper), and in a warmer shade than the upper teeth."""
    source = _flat_source(torch.tensor([0.35, 0.15, 0.15]))
    W, height = torch.tensor([[[80.0]]]), 40.0
    u = torch.full((1, 160, 1), 0.5)
    depth = torch.linspace(0, height, 160)[None, :, None]  # 4 rows per px, the lower lip at the last
    rgb = mouth._synthetic(u, depth, torch.full_like(u, height), W, source)[0][:, 0]
    column = luma(rgb)
    teeth = float(luma(source.teeth[None])[0])
    assert column[-9] > 0.55 * teeth, "lit teeth 2 px above the lip (under the edge's shade: 0.41)"
    assert column[-3] > 0.55 * teeth, "and half a px above it: no dark line at their roots (in the lip's shadow: 0.21)"
    # In the mouth's shade they lean toward the tongue's pink (ivory darkened alone reads olive).
    assert rgb[-9, 0] / rgb[-9, 1] > source.teeth[0] / source.teeth[1] + 0.03


def test_a_wide_opening_shows_a_tongue_under_a_dark_throat():
    """Real open mouths are mostly teeth and tongue, with the dark throat a band between them: down the middle of a
    wide synthesised opening the interior darkens below the upper teeth and lightens again toward the lower lip (a
    tongue), while a narrow gap stays in shadow."""
    source = _flat_source()
    W = torch.tensor([[[80.0]]])

    def centre_column(opening: float) -> torch.Tensor:
        height = opening * 80.0
        u = torch.full((1, 60, 1), 0.5)
        depth = torch.linspace(0, height, 60)[None, :, None]
        return luma(mouth._synthetic(u, depth, torch.full_like(u, height), W, source)[0])[:, 0]

    wide = centre_column(0.4)
    throat = int(wide[:40].argmin())
    assert wide[throat] < 0.15, "a dark throat behind the upper teeth (a quarter of the skin's luma)"
    tongue = wide[throat:54].max()  # above the lower lip's own edge (the last rows) and its shadow
    assert tongue > 2.5 * wide[throat] and tongue > 0.25, (float(wide[throat]), float(tongue))
    narrow = centre_column(0.06)
    assert narrow[10:50].max() < tongue, "behind a narrow gap the tongue stays in shadow"


def test_a_wide_open_tongue_is_lit_at_its_front_and_falls_into_shade_toward_its_back():
    """The light comes from above and in front: wide open, the tongue's front, behind the lower lip, is lit about as
    brightly as real tongues (bench/mouth_interior.py, the lit tongue: 0.89 of the skin's luma wide open in the
    videos of the 14 people the gallery renders, 0.76 in our renders of them at 0.8 of its light), and it falls into
    the throat's shade toward its top. (No teeth here: a toothless source draws a gum and no lower row.)"""
    source = _flat_source()
    source = dataclasses.replace(source, generic_teeth=False)
    height = 0.45 * 80.0
    u = torch.full((1, 60, 1), 0.5)
    depth = torch.linspace(0, height, 60)[None, :, None]
    column = luma(mouth._synthetic(u, depth, torch.full_like(u, height), torch.tensor([[[80.0]]]), source)[0])[:, 0]
    column = column / float(source.skin_luma)
    front = column[40:].max()
    top = int(column[:40].argmin())  # the throat above the tongue
    assert front > 0.85, f"the tongue's front is lit: {float(front):.2f} of the skin's luma"
    back = column[top:40 + int(column[40:].argmax())]
    assert (back[1:] >= back[:-1] - 1e-4).all(), "from the throat down to its front the tongue only brightens"
    assert back[len(back) // 2] < 0.8 * front, "its back is in shade"


def test_the_tongue_is_lit_by_the_light_the_skin_is_lit_by():
    """The whole mouth is lit by one light: under the lavender cast of a studio video (andrew_clip_2) the tongue takes
    its blue as the teeth do, instead of staying orange, at the same luma; in neutral light it is as it was."""
    image = torch.full((1, 3, 160, 160), 0.6)
    upper = torch.stack([torch.linspace(40, 120, 11), torch.full((11,), 80.0)], -1)
    lip, skin_luma = torch.tensor([0.55, 0.3, 0.3]), torch.tensor(0.6)
    height, u = 0.45 * 80.0, torch.full((1, 60, 1), 0.5)
    depth = torch.linspace(0, height, 60)[None, :, None]

    def tongue_front(skin_hue=None):
        skin = None if skin_hue is None else skin_hue / (skin_hue @ overlays.luma_weights("cpu")) * skin_luma
        source = dataclasses.replace(mouth.source_mouth(image, upper, upper.clone(), lip, skin_luma, skin=skin),
                                     generic_teeth=False)
        return mouth._synthetic(u, depth, torch.full_like(u, height), torch.tensor([[[80.0]]]), source)[0, 50, 0]

    neutral = tongue_front(torch.tensor([1.29, 0.91, 0.77]))  # the median skin's hue, in neutral light
    lavender = tongue_front(torch.tensor([1.12, 0.94, 0.97]))  # andrew_clip_2's skin
    assert torch.allclose(neutral, tongue_front(), atol=1e-5)
    assert float(lavender[2] / lavender[0]) > 1.08 * float(neutral[2] / neutral[0]), (lavender, neutral)
    assert abs(float(luma(lavender[None]) - luma(neutral[None]))) < 0.03 * float(luma(neutral[None]))


def test_the_tongues_front_comes_into_the_light_before_its_back(monkeypatch):
    """Light reaches the tongue through the gap between the lips from above and in front: as the mouth opens, its
    front, just behind the lower lip, is lit first, its back under the upper teeth last. Lit alike through the gap,
    our renders of the 14 real clips read their lit tongue at 0.75 of the skin's luma at medium openings, the same
    people's videos 0.85 (bench/mouth_interior.py, by clip). Behind a narrow gap it stays in the lips' shade. (The
    lips' inner edge is narrowed to its least, to see the tongue right down to the lower lip.)"""
    monkeypatch.setattr(mouth, "INNER_EDGE", 0.001)
    source = _flat_source()
    source = dataclasses.replace(source, generic_teeth=False)
    W = 200.0

    def front_and_back(opening: float) -> tuple[float, float]:
        height = opening * W
        u = torch.full((1, 400, 1), 0.5)
        depth = torch.linspace(0, height, 400)[None, :, None]
        column = luma(mouth._synthetic(u, depth, torch.full_like(u, height), torch.tensor([[[W]]]), source)[0])
        column, below = column[:, 0] / float(source.skin_luma), height - depth[0, :, 0]
        front = column[(below > 2) & (below < 0.2 * height)].max()
        back = column[(below > 0.45 * height) & (below < 0.6 * height)].median()
        return float(front), float(back)

    narrow, medium, wider = front_and_back(0.1), front_and_back(0.22), front_and_back(0.3)
    assert narrow[0] < 0.35, f"behind a narrow gap the front is in shade: {narrow[0]:.2f}"
    assert medium[0] > 0.55, f"at a medium opening the front is lit (0.50 lit alike): {medium[0]:.2f}"
    assert wider[0] > 1.5 * wider[1], f"the front before the back (1.38x lit alike): {wider}"


def test_a_medium_opening_is_in_the_lips_shade_until_it_opens_neither_black_nor_a_wall_of_teeth(monkeypatch):
    """Real openings have a dark part at every size: inside dlib's inner lips their darkest tenth reads 0.35-0.38 of the
    skin's luma from narrow to wide (bench/mouth_interior.py --every-clip, all 61 real clips). A tongue lit
    almost fully behind a narrow gap filled it with a pale pink-grey that read as lips, not an opening (0.43-0.44 in
    our renders of the same clips). So down the middle of the gap the tongue stays in the lips' shade through a
    narrow gap and comes into the light as the mouth opens; no band there goes black (a tongue reaching half the
    opening once left throat at 0.38-0.46 of the skin's), and none is lit like teeth. Wider open, the throat shows.
    (The lower teeth are left out: the column runs through the gap between the two middle ones.)"""
    monkeypatch.setattr(mouth, "lower_teeth", lambda u, *args, **kwargs: (torch.zeros_like(u), torch.ones_like(u)))
    source = _flat_source()
    W, skin = torch.tensor([[[80.0]]]), float(source.skin_luma)

    def middle_of_the_gap(opening: float) -> torch.Tensor:
        height = opening * 80.0
        u = torch.full((1, 60, 1), 0.5)
        depth = torch.linspace(0, height, 60)[None, :, None]
        return luma(mouth._synthetic(u, depth, torch.full_like(u, height), W, source)[0])[18:42, 0] / skin

    medians = []
    for opening in (0.15, 0.2, 0.25, 0.3):
        middle = middle_of_the_gap(opening)
        assert middle.min() > 0.25 and middle.max() < 0.85, (opening, middle.min(), middle.max())
        medians.append(float(middle.median()))
    assert medians[0] < 0.35 and medians[1] < 0.45, f"behind a narrow gap the tongue is in shade: {medians}"
    assert medians == sorted(medians) and medians[-1] > 0.5, f"it comes into the light as the mouth opens: {medians}"
    assert middle_of_the_gap(0.45).min() < 0.25, "wide open, the throat shows between the teeth and the tongue"


def test_each_lips_inner_edge_takes_its_own_colour():
    """A moustache over the upper lip must not outline the lower lip's inner edge in brown: each edge of the
    opening shades from its own lip's colour."""
    image = torch.full((1, 3, 160, 160), 0.6)
    upper = torch.stack([torch.linspace(40, 120, 11), torch.full((11,), 80.0)], -1)
    brown, pink = torch.tensor([0.25, 0.16, 0.14]), torch.tensor([0.75, 0.45, 0.45])
    source = mouth.source_mouth(image, upper, upper.clone(), (brown + pink) / 2, torch.tensor(0.6),
                                torch.stack([brown, pink]))
    u = torch.full((1, 2, 1), 0.15)  # beside the lower teeth (in front of the lower edge where they show)
    depth = torch.tensor([0.0, 30.0])[None, :, None]  # on the upper lip's edge, on the lower lip's
    edges = mouth._synthetic(u, depth, torch.full_like(u, 30.0), torch.tensor([[[80.0]]]), source)[0, :, 0]
    upper_shade, lower_shade = mouth.INNER_EDGE_SHADE
    assert torch.allclose(edges[0], upper_shade * brown, atol=0.02)
    assert torch.allclose(edges[1], lower_shade * pink, atol=0.02)


def test_a_beard_in_the_mouth_corners_gets_no_lip_coloured_edge():
    """The lips' inner edge shades from what is around the opening, not from the lips' median colour: where a beard
    reaches into the mouth's corners (full_beard_man, glasses_beard_smile_teeth_man by eye) a lip-coloured edge drew
    a pink line through it as the mouth opened."""
    image = astronaut_image(512).clone()
    corners = image_xy(analyse(image), [61, 291])
    width = float((corners[1] - corners[0]).norm())
    H, W = image.shape[:2]
    yy, xx = torch.meshgrid(torch.arange(H) + 0.5, torch.arange(W) + 0.5, indexing="ij")
    near = lambda points, r: torch.stack([((xx - x) ** 2 + (yy - y) ** 2).sqrt() < r  # noqa: E731
                                          for x, y in points.tolist()]).any(0)
    beard = torch.tensor([0.28, 0.2, 0.14])
    image[near(corners, 0.14 * width)] = beard
    face = analyse(image)
    frames, _ = render_frames(face, motion(face, [0.5]), RenderOptions())
    corners = near(image_xy(face, [61, 291]), 0.12 * width)
    redness = (frames[0, ..., 0] - frames[0, ..., 1])[corners]
    assert redness.max() < (beard[0] - beard[1]) + 0.03, f"a pink edge in the beard: {float(redness.max()):.3f}"


def test_the_lower_lip_sets_the_colour_under_a_moustache():
    """On a bearded face the upper lip's mid points read the moustache: the lips' colours are sampled per lip."""
    face = gallery_face("full_beard_man_closed_lips.jpg")
    lips = FlowRenderer(face, RenderOptions(), device=torch.device("cpu")).mouth.lips
    assert luma(lips[0]) < 0.8 * luma(lips[1]), lips.tolist()


def test_a_mouth_closing_past_the_source_opening_has_no_staircase():
    """A source whose lips are apart (a video's first frame) closed further: the halves of its interior carried by
    each lip overlap, and where they meet the colour crosses over a pixel and more, not in one step (a hard
    per-pixel choice between a dark upper half and a lit lower one drew a torn staircase along the lips)."""
    image = torch.full((1, 3, 160, 160), 0.1)
    image[:, :, 84:] = 0.8  # dark under the upper lip, lit over the lower one
    x = torch.linspace(40, 120, 11)
    row = lambda y: torch.stack([x, torch.full((11,), y)], -1)  # noqa: E731
    source = mouth.SourceMouth(row(80.0), row(88.0), torch.tensor([0.6, 0.35, 0.35]), torch.tensor(0.6),
                               torch.tensor([0.9, 0.85, 0.8]), shows_teeth=1.0, split=0.5)
    ys = torch.arange(81.0, 87.0, 0.125)
    pixels = torch.stack(torch.meshgrid(ys, torch.tensor([79.0, 80.0, 81.0]), indexing="ij")[::-1], -1)  # [h, 3, 2]
    rgb, alpha = mouth.interior(row(82.0)[None], row(86.0)[None], pixels, image, source)  # closed to half
    column = luma(rgb[0, :, 1])
    assert column.max() - column.min() > 0.5, "both halves show"
    assert (column[1:] - column[:-1]).abs().max() < 0.25, "no step from one half to the other within 1/8 px"
    zero, _ = mouth.interior(row(80.0)[None], row(88.0)[None], pixels, image, source)  # zero motion: the source
    assert torch.allclose(zero[0, :, 1], overlays.sample(image, pixels[None])[0, :, 1], atol=1e-4)


def test_black_and_white_photo_gets_a_grey_interior():
    """A black-and-white portrait's mouth is shaded in its own greys (no red throat or yellow teeth); a colour
    portrait's keeps its tint."""
    image = torch.full((1, 3, 160, 160), 0.6)
    grey = _synthetic_interior(image, torch.tensor([0.35, 0.35, 0.35]))
    assert (grey.amax(-1) - grey.amin(-1)).max() < 1e-4
    colour = _synthetic_interior(image, torch.tensor([0.55, 0.3, 0.3]))
    assert (colour[..., 0] - colour[..., 2]).mean() > 0.02


def test_generic_teeth_are_warm_ivory_not_olive():
    """Generic teeth take the hue real teeth have per unit luma: in the gallery's teeth portraits about 1.05 / 0.98 /
    0.93 (r / g / b), in the real clips' open frames about 1.25 / 0.89 / 0.87; redder than green, blue close to green.
    A yellow ivory (blue 0.85 of green) darkened in the mouth's shade read olive-grey on darker skin (620900105) and
    grey-green beside warm skin. Their luma still follows the skin's."""
    image = torch.full((1, 3, 160, 160), 0.5)
    upper = torch.stack([torch.linspace(40, 120, 11), torch.full((11,), 80.0)], -1)
    lumas = []
    for skin in (0.3, 0.46, 0.7):
        source = mouth.source_mouth(image, upper, upper.clone(), torch.tensor([0.6, 0.35, 0.35]), torch.tensor(skin))
        r, g, b = source.teeth.tolist()
        assert r / g > 1.1 and 0.92 < b / g < 1.0, f"teeth (r, g, b) {r:.3f} {g:.3f} {b:.3f} at skin luma {skin}"
        lumas.append(float(luma(source.teeth[None])[0]))
    assert lumas[0] < lumas[1] < lumas[2]


def test_mouth_corner_moves_to_where_the_lip_seam_ends():
    """A dark seam that runs on past the mesh's inner lip corner moves the corner outward along it (so opening the
    mouth does not fan it into a notch); without a seam there the corner stays."""
    image = torch.full((1, 3, 100, 200), 0.7)
    image[:, :, 49:52, 40:160] = 0.1  # the closed lips' seam, from x = 40 to 160
    inner = torch.tensor([[60.0, 50.5], [140.0, 50.5]])  # the mesh's corners, 20 px short of each end
    width = (inner[1] - inner[0]).norm()
    ends = mouth.seam_ends(image, inner, width)
    assert (ends[:, 0] * width > 6).all() and (ends[:, 0] * width < 22).all(), ends.tolist()
    assert (ends[:, 1] * width).abs().max() < 2, ends.tolist()
    plain = torch.full((1, 3, 100, 200), 0.7)
    assert mouth.seam_ends(plain, inner, width).abs().max() == 0


def test_a_seam_below_the_mesh_corner_is_still_followed():
    """The mesh may put the inner corner a few px above the closed lips' dark seam (large_frontal_man in the gallery:
    0.06 mouth widths); the seam is still found there, and the corner moves out along it and down onto it."""
    image = torch.full((1, 3, 100, 200), 0.7)
    image[:, :, 49:52, 40:160] = 0.1  # the seam's valley at y = 50
    inner = torch.tensor([[60.0, 45.0], [140.0, 45.0]])  # 5 px (0.06 mouth widths) above it
    width = (inner[1] - inner[0]).norm()
    ends = mouth.seam_ends(image, inner, width)
    assert (ends[:, 0] * width > 6).all(), ends.tolist()
    assert ((ends[:, 1] * width - 5).abs() < 1.5).all(), ends.tolist()


def luma(image):
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


def _opening_image(rows, lips_end=78):
    """A 120 x 200 image with a lip-coloured band (y 42..lips_end) and an opening between y = 50 and 70 (x 60..140)
    filled with rows [(y0, y1, rgb)], and its inner lips (upper along y = 50, lower along y = 70)."""
    image = torch.empty(1, 3, 120, 200)
    image[0] = torch.tensor([0.8, 0.6, 0.5])[:, None, None]  # skin
    image[0, :, 42:lips_end, 50:150] = torch.tensor([0.7, 0.4, 0.4])[:, None, None]  # lips
    for y0, y1, rgb in rows:
        image[0, :, y0:y1, 60:140] = torch.tensor(rgb)[:, None, None]
    x = torch.linspace(60, 140, 9)
    upper = torch.stack([x, torch.full_like(x, 50.0)], -1)
    lower = torch.stack([x, 50 + 20 * torch.tensor([0.0, 1, 1, 1, 1, 1, 1, 1, 0])], -1)  # corners shared
    return image, upper, lower


def _middle_column(image, upper, lower, source, drop, opened=None):
    """RGB [50, 3] of mouth.interior down the middle column (x = 100, y 50.5-99.5) of an _opening_image with its
    lower lip `drop` px further down."""
    ys = torch.arange(50.5, 100.0, 1.0)
    pixels = torch.stack(torch.meshgrid(ys, torch.tensor([100.0]), indexing="ij")[::-1], -1)
    dropped = lower + torch.stack([torch.zeros(9), torch.tensor([0.0, 1, 1, 1, 1, 1, 1, 1, 0]) * drop], -1)
    rgb, _ = mouth.interior(upper[None], dropped[None], pixels, image, source, opened=opened)
    return rgb[0, :, 0]


def test_teeth_that_reach_the_lower_lip_leave_it_no_bright_rim():
    """Upper teeth that fill a smile's opening down to the lower lip are not carried with the lower lip as its
    rim (a bright line along its inner edge once the mouth opens); a lip-coloured rim under the teeth is, all of it."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    teeth = (0.92, 0.9, 0.85)
    image, upper, lower = _opening_image([(50, 70, teeth)])
    assert mouth.source_mouth(image, upper, lower, lip, skin).rim < 0.02
    image, upper, lower = _opening_image([(50, 64, teeth), (64, 70, (0.7, 0.4, 0.4))])
    assert 0.25 < mouth.source_mouth(image, upper, lower, lip, skin).rim < 0.35  # 6 px of the 20 px opening
    # Pale lips parted over the teeth with a dark shadow line between the teeth and the lower lip: that line is no
    # rim either (carried with the lower lip it rode on it as a jagged dark line).
    image, upper, lower = _opening_image([(50, 64, teeth), (64, 70, (0.3, 0.2, 0.2))])
    assert mouth.source_mouth(image, upper, lower, lip, skin).rim < 0.02


def test_lit_lip_under_a_dark_gap_goes_with_the_lower_lip_as_the_mouth_closes():
    """A dark opening over a lit band of lip at its bottom (the face mesh's lower inner-lip row inside the lip, or a
    tongue lying on it; VoxCeleb2 00015): closing, the band keeps its size and goes up with the lower lip, and the
    dark gap shrinks. Hung from the upper lip with the dark, the band was covered first and the gap stayed as tall
    as the source's while the lips closed by half."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    dark, band = (0.08, 0.04, 0.04), (0.5, 0.3, 0.3)  # the band: lip in the mouth's shade, not teeth
    image, upper, lower = _opening_image([(50, 60, dark), (60, 70, band)])
    source = mouth.source_mouth(image, upper, lower, lip, skin)
    assert source.shows_teeth == 0 and source.split == 1.0
    assert abs(source.lip_under_gap - 0.5) < 0.06  # the lower 10 px of the 20 px opening
    assert torch.allclose(_middle_column(image, upper, lower, source, 0)[:20], image[0, :, 50:70, 100].T, atol=1e-4)
    column = luma(_middle_column(image, upper, lower, source, -6)[:14])  # closed to 14 px
    assert abs(int((column < 0.2).sum()) - 4) <= 1  # 10 px of dark less the 6 the lips closed by
    assert abs(int((column > 0.3).sum()) - 10) <= 1  # the band, all of it
    # No such band: an opening dark all the way down, one barely lighter at its bottom, and teeth under a dark gap
    # (the rows of teeth, split at the gap, go with their lips as before).
    for rows in ([(50, 70, dark)], [(50, 60, (0.2, 0.15, 0.15)), (60, 70, (0.26, 0.2, 0.2))]):
        image, upper, lower = _opening_image(rows)
        assert mouth.source_mouth(image, upper, lower, lip, skin).lip_under_gap == 0.0


def test_the_inner_edge_shade_fades_into_the_lip_at_the_corners():
    """The upper lip's inner edge is shaded along the opening (0.7 of the lip's colour), but at the corners the lips
    meet in their own colour: shaded there, a corner point that the opening's outline dipped around drew a dark speck
    beside a closing mouth (VoxCeleb2 00015). The lower lip's inner edge faces the light: shaded like the upper one it
    drew a dark outline along the bottom of the opening."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    image, upper, lower = _opening_image([(50, 70, (0.08, 0.04, 0.04))])
    source = mouth.source_mouth(image, upper, lower, lip, skin)
    # beside the left corner; the upper lip's edge and the lower lip's, mid-mouth
    points = torch.tensor([[[60.8, 50.5], [61.5, 50.5], [100.0, 50.5], [100.0, 69.5]]])
    rgb, alpha = mouth.interior(upper[None], lower[None], points, image, source, opened=torch.ones(1))
    corner, under_upper, over_lower = luma(rgb[0, 0, :2]), luma(rgb[0, 0, 2]), luma(rgb[0, 0, 3])
    assert (alpha == 1).all()
    assert (corner > 0.9 * luma(lip)).all() and under_upper < 0.75 * luma(lip)
    assert over_lower > 0.85 * luma(lip), "the lower lip's inner edge is lit"


def test_an_opened_smile_hangs_no_band_of_lip_under_its_upper_teeth():
    """A smile whose upper teeth end over the lower lip's wet rim (paler than the lip's middle), opened: the rim
    goes down with the lower lip, and no lip-coloured band hangs under the upper teeth (young_woman_bangs_smile_teeth
    and dark_skin_smile_teeth_man by eye: a band of pink under the teeth, the rim's upper half hung from them)."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    teeth, wet = (0.92, 0.9, 0.85), (0.85, 0.48, 0.44)
    image, upper, lower = _opening_image([(50, 64, teeth), (64, 70, wet)])
    source = mouth.source_mouth(image, upper, lower, lip, skin)
    column = _middle_column(image, upper, lower, source, drop=20.0)
    pink = (column - torch.tensor(wet)).abs().amax(-1) < 0.05  # the rim's own colour
    under_teeth, over_lip = int(pink[14:22].sum()), int(pink[30:40].sum())  # y 64-72; y 80-90 (the lip at 90)
    assert under_teeth <= 1, f"{under_teeth} px of the lip's rim hang under the upper teeth"
    assert over_lip >= 4, f"the rim rides on the lower lip: {over_lip} px"


@pytest.mark.parametrize("gap", [(0.08, 0.05, 0.05), (0.3, 0.22, 0.22)])
def test_the_dark_gap_between_the_rows_of_teeth_does_not_ride_on_the_lower_teeth(gap):
    """A mouth caught mid-word, upper teeth over a dark gap over its lower teeth, opened 20 px further: the lower
    teeth ride down on the lower lip, but the gap's lower half does not ride on them as a black band between them
    and the lit interior above (older_woman_talking_teeth_earrings: a black line along her lower teeth, like ink).
    Nor does a gap in half shadow (the gap's edges as they brighten into the teeth: at under half the interior's
    luma they still drew a brown line along her lower teeth, and M030's). Where the mouth is no wider open than the
    source, the gap is the source's own."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    teeth = (0.92, 0.9, 0.85)
    image, upper, lower = _opening_image([(50, 59, teeth), (59, 66, gap), (66, 70, teeth)])
    source = mouth.source_mouth(image, upper, lower, lip, skin)
    assert source.split < 1.0 and source.shows_teeth > 0.9  # the lower teeth ride on the lower lip
    column = luma(_middle_column(image, upper, lower, source, drop=20.0, opened=torch.ones(1)))
    lit, over_teeth = column[25], column[29:36]  # y 75; y 79-85, over the lower teeth carried to y 86-90
    assert column[36:40].min() > 0.8, "the lower teeth ride on the lower lip"
    # (Before: 0.06, the gap's own black, against 0.55 of the interior above.)
    assert over_teeth.min() > 0.8 * lit, (over_teeth.tolist(), float(lit))
    column = luma(_middle_column(image, upper, lower, source, drop=0.0, opened=torch.zeros(1)))
    assert (column[10:15] - luma(torch.tensor(gap))).abs().max() < 0.01  # at the source's opening its gap stays


def test_opened_smile_has_no_teeth_line_on_the_lower_lip(astronaut_face, monkeypatch):
    """The bundled portrait's upper teeth reach its lower lip. Opened, the pixels just above the driven lower
    lip's inner edge are the shaded interior or lip, never as bright as the teeth: the upper teeth are not carried
    down with the lower lip as a bright line. (The generic lower teeth that stand there once the jaw drops are
    left out, to see what is under them.)"""
    monkeypatch.setattr(mouth, "lower_teeth", lambda u, *args, **kwargs: (torch.zeros_like(u), torch.ones_like(u)))
    face = astronaut_face
    m = motion(face, [0.3])
    frames, _ = render_frames(face, m, RenderOptions())
    landmarks = drive_landmarks(face, m.expression, torch.zeros(1, 6), render_topology())
    c = face.crop_to_image.float()
    lower = landmarks[0, [87, 14, 317], :2] @ c[:, :2].T + c[:, 2]  # the inner lower lip's middle
    teeth = float(luma(face.image[lower[1, 1].long() - 5, lower[1, 0].long() - 3:lower[1, 0].long() + 4]).max())
    for x, y in lower.tolist():
        column = luma(frames[0, round(y) - 3:round(y), round(x)])
        assert column.max() < teeth - 0.1, (column.tolist(), teeth)


def test_the_opening_tapers_into_each_mouth_corner(synthetic_faces):
    """Opening the jaw, the column of the inner lips beside each corner opens less than the next one (no steep
    wedge, read as a dark notch, beside the corners); a motionless mouth keeps its source shape exactly."""
    t = render_topology()
    for face in synthetic_faces[:2]:
        source = inner_lip_gaps(face.landmarks[None].float(), t)[0]  # [9] px, corner to corner
        still = drive_landmarks(face, face.beta_0.float()[None], torch.zeros(1, 6), t)
        assert torch.equal(inner_lip_gaps(still, t)[0], source)
        for jaw in (0.3, 0.6, 1.0):
            m = motion(face, [jaw])
            opened = inner_lip_gaps(drive_landmarks(face, m.expression, torch.zeros(1, 6), t), t)[0] - source
            for beside, following in ((0, 1), (-1, -2)):
                assert opened[following] > 0, opened.tolist()
                assert opened[beside] <= 0.75 * opened[following], (jaw, opened.tolist())


def test_a_lip_above_the_shadow_it_casts_is_not_a_gap_between_teeth():
    """Upper teeth under the shadow of the upper lip, with lip still inside the mesh's opening above them, all
    hang from the upper lip (split 1): read as a gap, the teeth would ride down on the lower lip and leave a black
    band under the upper lip. A dark row between two rows of teeth is a gap."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    teeth = (0.75, 0.72, 0.68)
    image, upper, lower = _opening_image([(50, 55, (0.8, 0.5, 0.5)), (55, 58, (0.35, 0.2, 0.2)), (58, 70, teeth)])
    assert mouth.source_mouth(image, upper, lower, lip, skin).split == 1.0
    image, upper, lower = _opening_image([(50, 59, teeth), (59, 62, (0.1, 0.05, 0.05)), (62, 70, teeth)])
    assert 0.3 < mouth.source_mouth(image, upper, lower, lip, skin).split < 0.7
    # A dark open mouth between the two lips' inner rims splits in the dark: each rim stays with its lip.
    pale_lip = (0.75, 0.5, 0.5)
    image, upper, lower = _opening_image([(50, 55, pale_lip), (55, 65, (0.1, 0.05, 0.05)), (65, 70, pale_lip)])
    assert 0.25 <= mouth.source_mouth(image, upper, lower, lip, skin).split <= 0.75  # the dark rows


def test_a_dark_source_gap_gives_way_to_teeth_as_the_mouth_opens():
    """Lips a little apart over a dark gap hide the teeth in its shadow. Opened beyond the source, the interior
    under the upper lip turns from that gap to the (lighter) generic upper teeth; at the source's own opening
    (opened 0) it is the source's gap, pixel for pixel the same as without the weight."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    image, upper, lower = _opening_image([(50, 70, (0.08, 0.05, 0.05))])
    source = mouth.source_mouth(image, upper, lower, lip, skin)
    assert source.shows_teeth < 0.1
    driven_lower = upper + 1.8 * (lower - upper)  # opened to 36 px
    pixels = overlays.pixel_centres((55, 45, 90, 50), torch.device("cpu"))
    rows = upper[None], driven_lower[None]
    plain, _ = mouth.interior(*rows, pixels, image, source)
    kept, _ = mouth.interior(*rows, pixels, image, source, opened=torch.zeros(1))
    opened, _ = mouth.interior(*rows, pixels, image, source, opened=torch.ones(1))
    assert torch.equal(plain, kept)
    under_lip = luma(opened[0, 7:10, 35:55]).mean()  # 2-5 px under the upper lip's middle
    assert under_lip > luma(kept[0, 7:10, 35:55]).mean() + 0.15


def test_an_opening_full_of_tongue_opens_onto_upper_teeth_not_a_tongue_hung_from_the_lip():
    """A portrait caught mid-word: lit, lip-pink tongue fills the opening. It shows no teeth, so as the mouth opens
    the upper teeth appear under the upper lip and the tongue goes down with the jaw (hung from the upper lip it
    stayed up over a dark slit). Teeth between pale lips, as unsaturated as those lips but yellower, stay the
    source's own teeth, hung from the upper lip."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    tongue = (0.75, 0.45, 0.5)
    image, upper, lower = _opening_image([(50, 70, tongue)])
    source = mouth.source_mouth(image, upper, lower, lip, skin)
    assert source.shows_teeth < 0.1 and source.split <= 0.2
    driven_lower = upper + 1.8 * (lower - upper)  # opened to 36 px
    pixels = overlays.pixel_centres((55, 45, 90, 50), torch.device("cpu"))
    kept, _ = mouth.interior(upper[None], lower[None], pixels, image, source, opened=torch.zeros(1))
    opened, _ = mouth.interior(upper[None], driven_lower[None], pixels, image, source, opened=torch.ones(1))
    under_lip = opened[0, 7:10, 35:55].reshape(-1, 3).mean(0)  # 2-5 px under the upper lip's middle
    teeth = mouth.UPPER_TEETH_LIT * source.teeth  # generic upper teeth, in the upper lip's shade
    assert (under_lip - teeth).abs().max() < 0.15, (under_lip.tolist(), teeth.tolist())
    assert (kept[0, 7:10, 35:55].reshape(-1, 3).mean(0) - torch.tensor(tongue)).abs().max() < 0.02  # the source
    pale_lip, yellow_teeth = torch.tensor([0.85, 0.7, 0.7]), (0.85, 0.78, 0.68)
    image, upper, lower = _opening_image([(50, 70, yellow_teeth)])
    source = mouth.source_mouth(image, upper, lower, pale_lip, skin)
    assert source.shows_teeth > 0.9 and source.split == 1.0


def test_lower_lip_beside_the_corners_does_not_rise_over_them():
    """As the jaw drops the corners, the basis can leave the lower lip beside them behind, above the line between
    the corners (a hard wedge at each corner of a wide opening): it is held no higher above that line than in
    the source, and a motionless mouth is left exactly as it is."""
    t = render_topology()
    still = torch.zeros(1, 468, 3)
    x = torch.linspace(0, 100, 11)
    still[0, t.inner_lip_upper, 0] = x
    still[0, t.inner_lip_lower, 0] = x
    still[0, t.inner_lip_lower[1:-1], 1] = 4.0  # slightly open, the lower lip below the corners
    driven = still.clone()
    driven[0, t.inner_lip_lower, 1] += 30 * torch.sin(torch.linspace(0, torch.pi, 11))  # the jaw drops
    driven[0, t.inner_lip_lower[[0, -1]], 1] += 8.0  # and the corners with it
    driven[0, t.inner_lip_upper[[0, -1]], 1] += 8.0
    driven[0, t.inner_lip_lower[[1, -2]], 1] = still[0, t.inner_lip_lower[[1, -2]], 1]  # left behind
    out = geometry.taper_mouth_corners(driven, still, t)
    corner_line = out[0, t.inner_lip_lower[0], 1]
    assert (out[0, t.inner_lip_lower[1:3], 1] >= corner_line - 1e-4).all()
    assert (out[0, t.inner_lip_lower[-3:-1], 1] >= corner_line - 1e-4).all()
    assert torch.equal(geometry.taper_mouth_corners(still, still, t), still)


def test_the_tongue_rises_behind_the_sources_own_lower_teeth():
    """A source that shows both rows of teeth, opened wide: its lower teeth ride down on the lower lip, and behind
    them the tongue shows, lit from the front (measured from the lower lip, it sat hidden behind those teeth and the
    opening above them was all throat: a black hole)."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    teeth = (0.92, 0.9, 0.85)
    image, upper, lower = _opening_image([(50, 58, teeth), (58, 62, (0.08, 0.04, 0.04)), (62, 70, teeth)])
    source = mouth.source_mouth(image, upper, lower, lip, skin)
    assert source.shows_teeth > 0.9 and 0.3 < source.split < 0.7
    ys = torch.arange(50.5, 110.0, 1.0)
    pixels = torch.stack(torch.meshgrid(ys, torch.tensor([100.0]), indexing="ij")[::-1], -1)  # the middle column
    drop = torch.tensor([0.0, 1, 1, 1, 1, 1, 1, 1, 0]) * 40  # the lower lip 40 px down: the opening 60 px tall
    rgb, _ = mouth.interior(upper[None], (lower + torch.stack([torch.zeros(9), drop], -1))[None], pixels, image, source)
    column = luma(rgb[0, :, 0])  # 1 px a row: upper teeth, throat, tongue, the source's lower teeth, lower lip
    lit = ((column > 0.2) & (column < 0.6)).sum()  # neither throat nor teeth
    assert lit >= 12, f"the tongue shows over a fifth of the 60 px opening, not {int(lit)} px"
    assert column[8:30].min() < 0.1, "the throat is still a dark band under the upper teeth"


def test_lower_teeth_stand_on_the_lower_lips_own_rim_not_behind_it(monkeypatch):
    """A smile whose upper teeth end over a rim of lower lip (the rim rides on the lower lip), opened wide: the
    generic lower teeth stand on that rim, full height (behind it only their top 2 px showed, a dotted line along
    the lip). A source that shows its own lower teeth under a dark gap gets no generic ones over them."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    teeth = (0.92, 0.9, 0.85)
    ys = torch.arange(50.5, 110.0, 1.0)
    x = 100.0 + 0.5 * mouth.LOWER_TOOTH * 80  # a column through a lower tooth's middle (the mouth is 80 px wide)
    pixels = torch.stack(torch.meshgrid(ys, torch.tensor([x]), indexing="ij")[::-1], -1)
    drop = torch.tensor([0.0, 1, 1, 1, 1, 1, 1, 1, 0]) * 40  # the lower lip 40 px down: the opening 60 px tall

    def column(rows):
        image, upper, lower = _opening_image(rows)
        source = mouth.source_mouth(image, upper, lower, lip, skin)
        rgb, _ = mouth.interior(upper[None], (lower + torch.stack([torch.zeros(9), drop], -1))[None], pixels, image,
                                source)
        return source, luma(rgb[0, :, 0])

    rim_rows = [(50, 66, teeth), (66, 70, (0.7, 0.4, 0.4))]
    source, rim = column(rim_rows)
    assert source.split == 1.0 and source.rim > 0.15
    lower_teeth = int((rim[-20:] > 0.7).sum())  # the tongue stays under 0.6, the teeth over it
    assert lower_teeth >= 5, f"lower teeth {lower_teeth} px tall over the rim (behind it: 3)"
    own_rows = [(50, 58, teeth), (58, 62, (0.08, 0.04, 0.04)), (62, 70, teeth)]
    source, own = column(own_rows)
    assert source.shows_teeth > 0.9 and source.split < 1.0
    monkeypatch.setattr(mouth, "lower_teeth", lambda u, *args, **kwargs: (torch.zeros_like(u), torch.ones_like(u)))
    assert torch.equal(own, column(own_rows)[1]), "no generic lower teeth over the source's own"
    assert not torch.equal(rim, column(rim_rows)[1])


def test_closing_gain_is_zero_at_the_source_and_when_opening():
    x = torch.linspace(0, 80, 9)
    upper = torch.stack([x, torch.zeros(9)], -1)
    lower = lambda gap: torch.stack([x, gap * torch.tensor([0.0, 1, 1, 1, 1, 1, 1, 1, 0])], -1)  # noqa: E731
    for driven_gap, closing in ((10.0, 0.0), (16.0, 0.0), (4.0, 1.0)):  # the source's gap is 10 px (0.125 widths)
        gain = overlays.closing_gain(upper[None], lower(driven_gap)[None], upper, lower(10.0))
        assert float(gain) == closing, (driven_gap, float(gain))


def test_a_smile_closed_past_its_source_covers_the_rim_under_its_lower_lip(monkeypatch):
    """A smile whose upper teeth reach the lower lip, closed further (the DiT closes a source's smile on many words):
    the teeth hang from the upper lip behind the rising lower lip. The face mesh puts the lower inner lip a pixel or
    two above the lip's true edge, so the tips of the longer teeth (canines) lie under it in the source; carried up
    with the lip they poked over it like fangs (glasses_beard_smile_teeth by eye). Closed past the source the
    interior reaches over that rim (and the lip's texture is taken from below it), as on opening; at zero motion
    nothing changes."""
    face = gallery_face("glasses_beard_smile_teeth_man.jpg", 1024)
    insets = []
    original = mouth.interior

    def spy(upper, lower, pixels, image, source, lower_inset=None, opened=None, around=None):
        insets.append(float(lower_inset[0]))
        return original(upper, lower, pixels, image, source, lower_inset, opened, around)

    monkeypatch.setattr(mouth, "interior", spy)
    still, _ = render_frames(face, motion(face, [0.0]), RenderOptions())
    render_frames(face, motion(face, [-0.2]), RenderOptions())
    assert insets[0] == 0.0 and insets[1] >= 1.0, insets
    assert (still[0] - face.image).abs().max() < 2 / 255  # zero motion is still the source


def test_generic_teeth_are_as_bright_as_real_ones_and_warm_whatever_the_lipstick():
    """Generic teeth (a portrait that shows none) are about as bright as the teeth of portraits that show theirs
    (0.8-1.35x the skin's luma), where they were darker than the skin and read grey. Plain ivory read grey-green
    beside warm skin, so they lean a little toward a gum's pink, the same behind red lipstick as behind pale lips
    (the lips' own hue turned them orange). Grey lips (a black-and-white photo) leave them grey."""
    image = torch.full((1, 3, 160, 160), 0.6)
    upper = torch.stack([torch.linspace(40, 120, 11), torch.full((11,), 80.0)], -1)
    skin = torch.tensor(0.6)
    red = mouth.source_mouth(image, upper, upper.clone(), torch.tensor([0.7, 0.2, 0.2]), skin).teeth
    pale = mouth.source_mouth(image, upper, upper.clone(), torch.tensor([0.6, 0.45, 0.42]), skin).teeth
    grey = mouth.source_mouth(image, upper, upper.clone(), torch.tensor([0.4, 0.4, 0.4]), skin).teeth
    assert 1.0 <= float(luma(pale)) / float(skin) <= 1.2
    assert torch.allclose(red, pale, atol=1e-4)  # lipstick does not colour them
    assert pale[0] / pale[1] > 0.86 / 0.80  # warmer than plain ivory
    assert float(grey.max() - grey.min()) < 1e-4


def test_hair_over_the_forehead_and_one_cheek_leaves_the_mouth_lit_as_the_face(astronaut_face):
    """The interior and generic teeth are lit at the skin's luma, read off the face. Bangs down to the brows and hair
    falling past one eye's outer corner must not darken it: read at six points, such a face (a pale woman, forehead
    and one side under her hair) came out at 0.44 for a skin of 0.6-0.7, and her teeth grey."""
    face = astronaut_face
    hair = face.image.clone()
    brow = float(image_xy(face, [105, 334, 9])[:, 1].max())  # bangs reach the brows
    outer = float(image_xy(face, [33])[0, 0])  # the outer corner of the eye on the image's left
    hair[:int(brow)] = torch.tensor([0.12, 0.08, 0.06])
    hair[:, :int(outer)] = torch.tensor([0.12, 0.08, 0.06])
    lit = FlowRenderer(face, RenderOptions()).mouth
    covered = FlowRenderer(dataclasses.replace(face, image=hair), RenderOptions()).mouth
    assert float(covered.skin_luma) > 0.93 * float(lit.skin_luma)
    assert float(luma(covered.teeth)) > 0.93 * float(luma(lit.teeth))


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0])
def test_edge_blur_reads_how_soft_a_portraits_edges_are(sigma):
    """The re-blur estimate recovers the Gaussian sigma of a blurred edge (an upscaled small photo's softness)."""
    image = torch.zeros(1, 3, 120, 120)
    image[..., :, 60:] = 0.8
    image[..., 60:, :] *= 0.5  # two edges, of two contrasts
    points = torch.tensor([[35.0, 60.0], [85.0, 60.0]])
    estimate = mouth.edge_blur(overlays.gaussian_blur(image, sigma), points, 50.0)
    assert abs(estimate - sigma) < 0.15 * sigma, estimate


def test_a_soft_portraits_synthesised_opening_is_as_soft_as_the_portrait():
    """Generic teeth drawn crisp into a soft photo read as pasted on: the synthesised interior is blurred to the
    portrait's own softness (and left as drawn in a sharp one)."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    image, upper, lower = _opening_image([(50, 70, (0.08, 0.05, 0.05))])
    sharp = mouth.source_mouth(image, upper, lower, lip, skin)
    soft = dataclasses.replace(sharp, blur=2.0)
    driven_lower = upper + 1.8 * (lower - upper)
    pixels = overlays.pixel_centres((55, 45, 90, 50), torch.device("cpu"))
    rows = upper[None], driven_lower[None]
    opened = torch.ones(1)
    drawn = [luma(mouth.interior(*rows, pixels, image, s, opened=opened)[0][0, 3:30, 20:70]) for s in (sharp, soft)]
    steps = [(y[:, 1:] - y[:, :-1]).abs().max() for y in drawn]  # the sharpest step across the teeth
    assert steps[1] < 0.6 * steps[0], steps
    assert mouth.edge_blur(image, upper, 40.0) < 1.0  # the test portrait itself is sharp: drawn as before


def test_a_very_wide_opening_is_shaded_not_a_flat_black_hole(monkeypatch):
    """The jaw of real speech drops to three quarters of the mouth's width on its widest vowels: there the throat
    filled a third of the opening with one flat near-black (0.07 of the skin's luma; May_5s, 517600055 by eye, a
    black hole). Light from the lips reaches deeper into a wider mouth, so the throat is shaded (darkest at the back,
    lighter toward the lips) and never black, and the tongue fills more of the floor. Still darker than the tongue.
    (The lower teeth are left out: their top edge, not the tongue's, would be where the column brightens fastest.)"""
    monkeypatch.setattr(mouth, "lower_teeth", lambda u, *args, **kwargs: (torch.zeros_like(u), torch.ones_like(u)))
    source = _flat_source()
    W, skin = torch.tensor([[[80.0]]]), float(source.skin_luma)
    height = 0.75 * 80.0
    u = torch.full((1, 90, 1), 0.5)
    depth = torch.linspace(0, height, 90)[None, :, None]
    column = luma(mouth._synthetic(u, depth, torch.full_like(u, height), W, source)[0])[:, 0] / skin
    throat = int(column[:60].argmin())
    assert column[throat] > 0.12, "no flat black (0.07 before)"
    below_teeth = column[:throat][column[:throat] < 0.5][:3].mean()  # the throat's top, just under the teeth
    assert below_teeth > column[throat] + 0.05, "shaded: lighter toward the lips, darkest at the back"
    tongue = column[throat:84].max()
    assert tongue > 2 * column[throat]
    top = throat + int(column[throat:84].diff().argmax())  # the tongue's top: where the column brightens fastest
    assert depth[0, top, 0] < height - 0.25 * 80, "it rises more than a quarter of the mouth's width (0.2 before)"


def test_opened_the_carried_halves_of_the_mouth_end_softly_at_their_split():
    """A mouth caught mid-word, upper teeth over a thin dark gap over its lower teeth, opened 20 px further: each
    half of the source's interior, carried by its lip, ends where the opening splits, in the gap. Opened, each ends a
    little before that edge, fading into the drawn interior: carried to the edge, the upper half hung the gap's own
    black under the teeth as a hard line and the lower half put a sliver of its teeth over the lower row
    (older_woman_talking_teeth_earrings and May_5s by eye: a jagged black edge under the teeth and along the lower
    teeth). At the source's own opening nothing changes."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    teeth, gap = (0.92, 0.9, 0.85), (0.08, 0.05, 0.05)
    image, upper, lower = _opening_image([(50, 58, teeth), (58, 61, gap), (61, 70, teeth)])
    source = mouth.source_mouth(image, upper, lower, lip, skin)
    assert 0.3 < source.split < 0.6 and source.shows_teeth > 0.9
    column = luma(_middle_column(image, upper, lower, source, drop=20.0, opened=torch.ones(1)))
    between = column[8:30]  # y 58.5-79.5: from under the upper teeth (y 50-58) to over the lower ones (y 81-90)
    assert between.min() > 1.3 * float(luma(torch.tensor(gap))), between.tolist()  # (before: the gap's own, 0.06)
    plateau = float(column[20])  # the drawn interior between the halves
    assert between.max() < plateau + 0.1, between.tolist()  # (before: 0.74 against 0.55)
    still = _middle_column(image, upper, lower, source, drop=0.0, opened=torch.zeros(1))
    assert (still[:19] - image[0, :, 50:69, 100].T).abs().max() < 1e-4  # the source's own opening (y 50-69)


def _teeth_on_lip_image(below):
    """An _opening_image showing upper teeth, with a lower lip 20 px thick (y 70..90) whose rows `below`
    [(y0, y1, rgb)] are set; its inner lips and the lower lip's outer edge (y = 90)."""
    image, upper, lower = _opening_image([(50, 70, (0.92, 0.9, 0.85)), *below], lips_end=90)
    return image, upper, lower, lower + torch.tensor([0.0, 20.0])


def test_lower_teeth_on_the_lower_lip_get_no_generic_ones_and_no_dark_line_over_them(monkeypatch):
    """A portrait caught with its teeth apart where the face mesh put the lower inner lip in the gap between the
    rows (andrew_clip_1): its lower teeth lie under that row, on the lower lip's texture, and ride down with it.
    Opened, no generic lower teeth are drawn above them (two rows, one behind the other), and the interior reaches
    down over the gap's dark lower part to their top (it rode down over them as a black line)."""
    lip, skin = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    teeth, gap = (0.92, 0.9, 0.85), (0.1, 0.06, 0.06)
    image, upper, lower, outer = _teeth_on_lip_image([(70, 75, gap), (75, 82, teeth)])
    source = mouth.source_mouth(image, upper, lower, lip, skin, outer_lower=outer)
    assert source.teeth_on_lip > 0.9
    assert abs(source.teeth_top - 5 / 80) < 0.015, source.teeth_top  # 5 px under the row, the mouth 80 px wide
    width = torch.tensor([80.0])
    assert float(mouth.lower_inset(source, torch.zeros(1), torch.zeros(1), width)) == 0.0  # the source's own
    inset = mouth.lower_inset(source, torch.ones(1), torch.zeros(1), width)
    assert 4.0 < float(inset) < 6.0
    # Opened 20 px: the interior covers the gap's lower part, carried to y 90-95, with no black line.
    ys = torch.arange(50.5, 100.0, 1.0)
    pixels = torch.stack(torch.meshgrid(ys, torch.tensor([100.0]), indexing="ij")[::-1], -1)
    dropped = lower + torch.stack([torch.zeros(9), torch.tensor([0.0, 1, 1, 1, 1, 1, 1, 1, 0]) * 20], -1)
    rgb, alpha = mouth.interior(upper[None], dropped[None], pixels, image, source, inset, torch.ones(1))
    assert alpha[0, 40:44, 0].min() > 0.99, "the interior reaches down over the gap's lower part (y 90-94)"
    assert luma(rgb[0, 40:44, 0]).min() > 0.2
    # ...and down to the teeth's lit top it is not shaded as a lip's wet edge (a dark line between the tongue and the
    # teeth: 0.34 against 0.57 above it).
    column = luma(rgb[0, :, 0])
    assert column[43:46].min() > 0.9 * column[40], column[40:46].tolist()
    monkeypatch.setattr(mouth, "lower_teeth", lambda u, *args, **kwargs: (torch.zeros_like(u), torch.ones_like(u)))
    without, _ = mouth.interior(upper[None], dropped[None], pixels, image, source, inset, torch.ones(1))
    assert torch.equal(rgb, without), "no generic lower teeth over the source's own"
    # A lower lip without teeth on it (its own colour, or the skin past its inner half) shows none; nor do teeth
    # running on past the row with no dark band over them (the opening's own, andrew_clip_2's narrow smile).
    for below in ([], [(80, 90, (0.8, 0.6, 0.5))], [(70, 80, teeth)]):
        image, upper, lower, outer = _teeth_on_lip_image(below)
        assert mouth.source_mouth(image, upper, lower, lip, skin, outer_lower=outer).teeth_on_lip == 0.0


def test_without_teeth_the_mouth_shows_gums_and_the_portraits_own_teeth_only(astronaut_face):
    """mouth_style 'cavity (no teeth)' (a baby, a toothless mouth): a wide synthesised opening has no generic teeth,
    upper or lower, but a pink gum ridge under the upper lip; and a rendered portrait is still the source exactly at
    zero motion."""
    source = _flat_source()
    gums = dataclasses.replace(source, generic_teeth=False)
    W = torch.tensor([[[80.0]]])
    u, depth = torch.linspace(0.2, 0.8, 31)[None, None, :].expand(1, 60, 31), torch.linspace(0, 32, 60)[None, :, None]
    height = torch.full_like(u, 32.0)  # 0.4 mouth widths open
    with_teeth = mouth._synthetic(u, depth.expand_as(u), height, W, source)[0]
    without = mouth._synthetic(u, depth.expand_as(u), height, W, gums)[0]

    def teeth(rgb):  # px as bright as teeth and as grey (the tongue is as bright, but pink)
        return int(((luma(rgb) > 0.4) & (rgb[..., 0] < 1.3 * rgb[..., 1])).sum())

    assert teeth(with_teeth) > 100, "generic teeth are drawn by default"
    assert teeth(without) == 0
    under_lip = without[2:5, 15]  # the middle, just under the upper lip: gum
    assert bool((under_lip[:, 0] > 1.2 * under_lip[:, 1]).all()) and luma(under_lip).min() > 0.15, under_lip
    face = astronaut_face
    options = RenderOptions(mouth_style="cavity (no teeth)")
    assert FlowRenderer(face, options).mouth.generic_teeth is False
    frames, _ = render_frames(face, motion(face), options)
    assert (frames[0] - face.image).abs().max() < 2 / 255


def test_generic_teeth_take_the_colour_of_the_light_the_skin_is_lit_by():
    """Under red studio light a white tooth is red, and neutral it read teal beside red skin (VoxCeleb2 00086);
    under yellow light, yellow; at the same luma. Skin of any hue real skins show in neutral light (mouth.SKIN_HUES),
    the pale and cool one included, leaves the teeth as they were; a black-and-white photo gets no tint."""
    image, upper, lower = _opening_image([])
    lip, skin_luma = torch.tensor([0.7, 0.4, 0.4]), torch.tensor(0.65)
    hue = torch.tensor([1.29, 0.91, 0.77])  # the median skin's

    def teeth(skin_hue, lip=lip):
        skin = skin_hue / (skin_hue @ overlays.luma_weights("cpu")) * skin_luma
        return mouth.source_mouth(image, upper, upper.clone(), lip, skin_luma, skin=skin).teeth

    plain = mouth.source_mouth(image, upper, upper.clone(), lip, skin_luma).teeth
    assert torch.allclose(teeth(hue), plain, atol=1e-5)
    assert torch.allclose(teeth(torch.tensor([1.16, 0.94, 0.86])), plain, atol=1e-5)  # a pale, cool skin
    red, yellow = teeth(hue * torch.tensor([1.2, 0.85, 0.95])), teeth(hue * torch.tensor([1.05, 1.0, 0.6]))
    assert red[0] / red[1] > 1.15 * plain[0] / plain[1], (red.tolist(), plain.tolist())
    assert yellow[2] / yellow[1] < 0.85 * plain[2] / plain[1], (yellow.tolist(), plain.tolist())
    for lit in (red, yellow):
        assert abs(float(lit @ overlays.luma_weights("cpu")) - float(plain @ overlays.luma_weights("cpu"))) < 1e-4
    grey = torch.tensor([0.5, 0.5, 0.5])
    assert torch.allclose(teeth(hue * torch.tensor([1.2, 0.85, 0.95]), grey), mouth.source_mouth(
        image, upper, upper.clone(), grey, skin_luma).teeth, atol=1e-5)
