"""The embedded flow renderer: faithful at rest, untouched outside its mask, opens mouths, closes eyes, no flicker."""
import dataclasses

import numpy as np
import pytest
import torch

from comfyui_modit.modit.render.overlays import saturation
from comfyui_modit.modit.render import renderer as renderer_module
from comfyui_modit.modit.render.renderer import FlowRenderer, RenderOptions, chunk_frames, render_frames
from comfyui_modit.modit.render.topology import render_topology
from comfyui_modit.modit.types import Face, Motion

from .astronaut import analyse, make_face

K = 12
JAW = 0


@pytest.fixture(scope="module")
def astronaut_face():
    return make_face(512)


def motion(T, jaw=None, closure=0.0, yaw=0.0, dtype=torch.float32):
    """T frames of the astronaut's own expression, with an absolute jaw_open, eye closure and yaw per frame."""
    expression = make_face(512).beta_0.float().repeat(T, 1)
    if jaw is not None:
        expression[:, JAW] = torch.as_tensor(jaw, dtype=torch.float32)
    pose = torch.zeros(T, 6)
    pose[:, 0] = torch.as_tensor(yaw, dtype=torch.float32)
    eyes = torch.zeros(T, 2) + torch.as_tensor(closure, dtype=torch.float32).reshape(-1, 1)
    return Motion(expression.to(dtype), pose.to(dtype), eyes.to(dtype), 25.0, "embedded-v1")


def luma(image):
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


def psnr(a, b):
    return float(-10 * torch.log10(((a.float() - b.float()) ** 2).mean().clamp_min(1e-20)))


def image_points(face):
    """[468, 2] the face's landmarks in image px."""
    m = face.crop_to_image.float()
    return face.landmarks[:, :2] @ m[:, :2].T + m[:, 2]


def region(face, indices, pad=2):
    """Integer box (x0, y0, x1, y1) in image px around some landmarks of the face."""
    xy = image_points(face)[indices]
    low, high = xy.min(0).values, xy.max(0).values
    return int(low[0]) - pad, int(low[1]) - pad, int(high[0]) + pad + 1, int(high[1]) + pad + 1


def test_zero_motion_reproduces_source(astronaut_face):
    frames, masks = render_frames(astronaut_face, Motion.still(astronaut_face.beta_0, 2, 25.0, "embedded-v1"),
                                  RenderOptions())
    assert frames.shape == (2, 512, 512, 3) and masks.shape == (2, 512, 512)
    assert psnr(frames[0], astronaut_face.image) > 35
    assert masks.max() == 1 and masks[:, 0, 0].max() == 0


def test_outside_mask_is_the_source(astronaut_face):
    m = motion(3, jaw=[0.0, 0.8, 0.4], closure=[0.0, 1.0, 0.5], yaw=[0.2, -0.15, 0.1])
    frames, masks = render_frames(astronaut_face, m, RenderOptions(feather=0.3))
    outside = masks == 0
    assert outside.float().mean() > 0.5, "the mask should cover the head, not the whole image"
    source = astronaut_face.image.expand_as(frames)
    assert torch.equal(frames[outside], source[outside])
    assert (frames - source).abs().amax(-1)[masks > 0.5].max() > 0.05, "the head should move"


def test_a_face_cut_by_the_images_edge_moves_without_dragging_the_edge_across_the_frame(astronaut_face):
    """A tight crop cuts the face at the image's edge. Turned and shifted, the head's warp sampled past that edge,
    where there is no source, and every pixel that did took the edge column's colour: the edge was dragged across
    the frame in streaks (13 % of the first 8 columns repeating the edge pixel of their row, against 0.6 % in the
    portrait). The warp fades out toward the edge, so the edge stays the source's and nothing smears."""
    from .astronaut import analyse, astronaut_image

    x0 = int(image_points(astronaut_face)[:, 0].min()) + 15  # through the left cheek
    image = astronaut_image(512)[:, x0:].contiguous()
    face = analyse(image)
    pose = torch.zeros(3, 6)
    pose[:, 0] = torch.tensor([0.0, 0.2, -0.2])  # yaw
    pose[:, 3] = torch.tensor([0.0, 0.03, -0.03])  # sideways shift
    frames, _ = render_frames(face, Motion(face.beta_0.float().repeat(3, 1), pose, torch.zeros(3, 2), 25.0,
                                           face.space), RenderOptions())

    def smeared(x: torch.Tensor) -> float:  # share of the first 8 columns that repeat their row's edge pixel
        return float(((x[..., 1:8, :] - x[..., :1, :]).abs().amax(-1) < 2e-3).float().mean())

    assert max(smeared(f) for f in frames) < smeared(image) + 0.01, [smeared(f) for f in frames]
    change = (frames - image).abs().amax(-1)
    assert change[:, :, 0].max() < 0.01, "the edge column is the source's"
    assert change[1:].amax((1, 2)).min() > 0.3, "the head still moves"


def test_jaw_opens_the_mouth(astronaut_face):
    frames, _ = render_frames(astronaut_face, motion(2, jaw=[1.0, 1.0]), RenderOptions())
    frames = torch.stack([astronaut_face.image, frames[1]])
    x0, y0, x1, y1 = region(astronaut_face, [61, 291, 0, 17, 152], pad=4)
    lower_face = luma(frames[:, y0:y1, x0:x1])
    dark = (lower_face < 0.35 * lower_face[0].median()).sum((1, 2))
    # An open mouth shows a dark cavity (under a third of the skin's luma: the throat; the tongue in front of it is
    # lit) of at least a few % of the lower face ...
    assert dark[1] > dark[0] + 0.03 * (x1 - x0) * (y1 - y0), dark.tolist()
    # ... and the face stack, run again on the rendered frame, reads a wider jaw opening than in the source.
    measured = analyse(frames[1]).beta_0[JAW]
    assert measured > astronaut_face.beta_0[JAW] + 0.07, (float(astronaut_face.beta_0[JAW]), float(measured))


def test_eye_closure_covers_the_iris(astronaut_face):
    frames, _ = render_frames(astronaut_face, motion(3, closure=[0.0, 0.5, 1.0]), RenderOptions())
    for ring, crease in (([33, 133, 159, 145], [56, 28, 27, 29, 30]),
                         ([362, 263, 386, 374], [286, 258, 257, 259, 260])):
        x0, y0, x1, y1 = region(astronaut_face, ring, pad=0)
        iris = (luma(frames[:, y0:y1, x0:x1]) < 0.3).sum((1, 2)).float()  # dark iris and pupil pixels
        assert iris[0] > 20
        assert iris[1] < 0.9 * iris[0] and iris[2] < 0.35 * iris[0], iris.tolist()
        # The lid covers the eye with skin: the closed eye (its lash line aside: the median) is within 10 % as
        # bright as the source's own lid skin between the crease and the open margin, and brighter than the open
        # eye. (The lid read 0.94 of it, both eyes, before and after the lashes became a soft fringe.)
        top = region(astronaut_face, crease, pad=0)[1]
        w = x1 - x0
        lid_skin = luma(astronaut_face.image[top:y0, x0 + w // 4:x1 - w // 4]).median()
        closed = luma(frames[2, y0:y1, x0:x1])
        assert closed.median() > 0.9 * lid_skin, (float(closed.median()), float(lid_skin))
        assert closed.mean() > luma(frames[0, y0:y1, x0:x1]).mean() + 0.03
    # The face stack, run again on the rendered frame, reads both eyes as closed.
    openness = analyse(frames[2]).eye_openness
    assert (openness < 0.3).all(), openness.tolist()


def test_half_closed_eye_keeps_the_iris_round(astronaut_face):
    """A half-closed lid hides the top of the iris; the visible part is not squashed toward the lower lid."""
    frames, _ = render_frames(astronaut_face, motion(2, closure=[0.0, 0.5]), RenderOptions())
    x0, y0, x1, y1 = region(astronaut_face, [33, 133, 159, 145], pad=0)
    dark = luma(frames[:, y0:y1, x0:x1]) < 0.3
    rows = torch.arange(y1 - y0).float()[:, None]
    lowest = [float(rows.expand_as(d)[d].max()) for d in dark]
    assert abs(lowest[1] - lowest[0]) <= 1.0, lowest


def test_fp16_inputs_give_finite_frames(astronaut_face):
    half_face = Face(**{**{f: getattr(astronaut_face, f) for f in astronaut_face.__dataclass_fields__},
                        "image": astronaut_face.image.half()})
    m = motion(2, jaw=[0.3, 0.9], closure=[0.5, 1.0], yaw=[0.1, -0.1], dtype=torch.float16)
    reference = astronaut_face.image.half()[None].repeat(2, 1, 1, 1)
    frames, masks = render_frames(half_face, m, RenderOptions(), reference)
    assert torch.isfinite(frames).all() and torch.isfinite(masks).all()
    assert frames.min() >= 0 and frames.max() <= 1


@pytest.mark.parametrize("layout", ["image", "crop"])
def test_mouth_reference_fills_the_interior(astronaut_face, layout):
    size = astronaut_face.image.shape[:2] if layout == "image" else (96, 96)  # Wav2Lip renders the face crop
    reference = torch.zeros(1, *size, 3)
    reference[..., 1] = 1.0  # all green: wherever it shows, we see it
    frames, _ = render_frames(astronaut_face, motion(1, jaw=[1.0]), RenderOptions(), reference)
    x0, y0, x1, y1 = region(astronaut_face, [61, 291, 0, 17, 152], pad=4)
    patch = frames[0, y0:y1, x0:x1]
    green = (patch[..., 1] > 0.8) & (patch[..., 0] < 0.2)
    assert green.sum() > 0.03 * (x1 - x0) * (y1 - y0)
    assert not ((frames[0, ..., 1] > 0.8) & (frames[0, ..., 0] < 0.2)).any(dim=1)[:y0].any(), "green above the mouth"


def test_constant_motion_gives_identical_frames(astronaut_face):
    frames, _ = render_frames(astronaut_face, motion(4, jaw=0.5, closure=0.3, yaw=0.1),
                              RenderOptions(chunk_size=3))
    assert all(torch.equal(frames[0], frames[i]) for i in range(1, 4))


def test_smooth_motion_changes_frames_smoothly(astronaut_face):
    """No flicker: a linear jaw and head ramp changes each frame by about the same amount."""
    T = 12
    ramp = torch.linspace(0, 1, T)
    frames, _ = render_frames(astronaut_face, motion(T, jaw=0.6 * ramp, yaw=0.1 * ramp), RenderOptions())
    steps = (frames[1:] - frames[:-1]).abs().mean((1, 2, 3))
    assert steps.min() > 0
    assert steps.max() < 2.0 * steps.median(), steps.tolist()


def test_supersampled_samples_are_the_photo_at_its_pixel_centres_and_sharp_between_them(monkeypatch):
    from comfyui_modit.modit.render import overlays

    image = torch.rand(1, 3, 40, 50, generator=torch.Generator().manual_seed(0))
    sharp = overlays.Supersampled(image, (5, 6, 30, 25))
    centres = overlays.pixel_centres((5, 6, 30, 25), "cpu")[None]
    assert torch.allclose(sharp.sample(centres), overlays.sample(image, centres), atol=1e-5)
    # Half a pixel off on both axes, white noise keeps far more of its contrast than under bilinear weights.
    between = centres + 0.5
    kept = lambda x: float((x - x.mean()).std())  # noqa: E731
    assert kept(sharp.sample(between)) > 1.3 * kept(overlays.sample(image, between))
    # A head box too large to upsample is sampled as it is.
    monkeypatch.setattr(overlays, "SUPERSAMPLED_PIXELS", 30 * 25 * 8)
    plain = overlays.Supersampled(image, (5, 6, 30, 25))
    assert plain.factor == 1 and torch.allclose(plain.sample(between), overlays.sample(image, between), atol=1e-5)


def test_a_turning_head_keeps_its_fine_detail(astronaut_face):
    """The warp samples the photo between its pixels, and that must not blur it: a head turned a little keeps the
    skin's grain (luma minus its 3x3 mean) where the mask is solid: 0.93-0.94 of it here. Sampled bilinearly from
    the photo itself, it kept 0.85-0.87 (bicubic sampling: 0.95-0.96)."""
    for yaw in (0.05, 0.1):
        frames, masks = render_frames(astronaut_face, motion(1, yaw=yaw), RenderOptions())
        inner = masks[0] > 0.99
        kept = grain(frames[0])[inner].std() / grain(astronaut_face.image)[inner].std()
        assert kept > 0.91, (yaw, float(kept))


def test_output_size_caps_the_longest_side(astronaut_face):
    frames, masks = render_frames(astronaut_face, motion(1, jaw=[0.5]), RenderOptions(max_side=256))
    assert frames.shape == (1, 256, 256, 3) and masks.shape == (1, 256, 256)


def test_wrong_space_is_refused(astronaut_face):
    face = Face(**{**{f: getattr(astronaut_face, f) for f in astronaut_face.__dataclass_fields__},
                   "space": "bfm-64"})
    with pytest.raises(ValueError, match="embedded-v1"):
        FlowRenderer(face, RenderOptions())


EYE_RINGS = ([33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7],
             [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249])


def grain(image):
    """Luma minus its 3x3 mean: the pores and fine lines a painted flat skin lacks."""
    y = luma(image)[None, None]
    return (y - torch.nn.functional.avg_pool2d(y, 3, 1, 1, count_include_pad=False))[0, 0]


def test_closed_lid_keeps_the_skin_grain_and_stays_near_the_eye(astronaut_face):
    """A closed lid is not smoother than the skin around the eye, and a blink changes nothing away from
    the eye (brows, glasses frames and the rest of the face keep their pixels)."""
    frames, _ = render_frames(astronaut_face, motion(2, closure=[0.0, 1.0]), RenderOptions())
    changed = (frames[1] - frames[0]).abs().amax(-1) > 2 / 255
    near_eyes = torch.zeros_like(changed)
    for ring in EYE_RINGS:
        x0, y0, x1, y1 = region(astronaut_face, ring, pad=0)
        pad = (x1 - x0) // 3  # the lid skin above the margin stretches with the lid
        near_eyes[max(y0 - pad, 0):y1 + pad, max(x0 - pad, 0):x1 + pad] = True
        # The lowered lid's interior: between the open upper margin and the closed one (0.9 of the way down to
        # the lower margin), clear of the lash line, over the middle half of the eye.
        top, bottom = image_points(astronaut_face)[[ring[4], ring[12]], 1].tolist()
        closed = top + 0.9 * (bottom - top)
        w, h = x1 - x0, y1 - y0
        lid = grain(frames[1])[round(top) + 1:round(closed) - 1, x0 + w // 4:x1 - w // 4]
        cheek = grain(frames[0])[y1 + h:y1 + 2 * h, x0 + w // 4:x1 - w // 4]  # the skin below the eye
        assert lid.std() > 0.4 * cheek.std(), (float(lid.std()), float(cheek.std()))
    assert changed.any()
    assert not (changed & ~near_eyes).any(), int((changed & ~near_eyes).sum())



def test_lashes_are_a_soft_fringe_that_thins_out_at_the_corners():
    """The lashes of a lowered lid are not a pencil line of one width and strength: none at the corners, fuller
    toward the outer corner than the inner, roots dark on the margin fading up into the lid, tips hanging a little
    below it, and a lash line thinner than a pixel drawn as a pixel with that share of cover."""
    from comfyui_modit.modit.render.overlays import lash_fringe
    u = torch.linspace(0, 1, 101)[:, None]  # inner corner to outer, across ...
    d = torch.linspace(-6, 6, 121)[None, :]  # ... px from the margin, up into the lid
    cover = lash_fringe(u, d, torch.tensor(2.0))
    assert float(cover.amin()) >= 0 and float(cover.amax()) <= 1
    assert float(cover[0].amax()) == 0 and float(cover[-1].amax()) == 0
    margin = 60  # d == 0
    assert cover[70].sum() > cover[25].sum() > 0  # fuller (wider, longer) toward the outer corner
    assert (cover.diff(dim=1).abs() < 0.35).all()  # no step: soft on both sides of the margin
    assert cover[50, margin] > cover[50, margin + 15] > cover[50, margin + 50] == 0  # roots fade up into the lid
    assert cover[50, margin - 20] > 0 and cover[50, margin - 60] == 0  # tips hang below the margin, not far
    thin = lash_fringe(u, d, torch.tensor(0.5))
    assert 0.3 < float(thin.amax()) <= 0.5 + 1e-6


def test_closed_lid_is_opaque_under_its_lash_line(astronaut_face):
    """At full closure nothing of the iris shows through the lid: between the closed margin (the lash line) and the
    open lower margin, where the source has the bottom of its iris, the render is skin, not a dark band."""
    frames, _ = render_frames(astronaut_face, motion(2, closure=[0.0, 1.0]), RenderOptions())
    for ring in EYE_RINGS:
        x0, y0, x1, y1 = region(astronaut_face, ring, pad=0)
        top, bottom = image_points(astronaut_face)[[ring[4], ring[12]], 1].tolist()
        closed = top + 0.9 * (bottom - top)  # geometry.UPPER_LID_SHARE
        w, h = x1 - x0, y1 - y0
        assert luma(frames[0, y0:y1, x0:x1]).min() < 0.3  # the source's iris is there
        cheek = luma(frames[0, y1 + h:y1 + 2 * h, x0:x1]).median()
        under = luma(frames[1, int(closed) + 1:y1 + 1, x0 + w // 4:x1 - w // 4])
        assert under.numel() > 0
        # (Before the lids were composited as one layer over the whole open eye: 0.68 / 0.65 and 0.54 / 0.38.)
        assert under.mean() > 0.7 * cheek and under.min() > 0.45 * cheek, (float(under.mean() / cheek),
                                                                           float(under.min() / cheek))


def _shade_above_the_eyes(face, factor):
    """The face with the skin from the brows down to each eye's upper margin darkened to `factor` (a deep socket
    under a brow's shadow); the skin under the eyes is left as it is."""
    image = face.image.clone()
    for ring in EYE_RINGS:
        x0, y0, x1, y1 = region(face, ring, pad=0)
        top = int(image_points(face)[ring[4], 1])
        image[max(top - 2 * (y1 - y0), 0):top, x0 - 4:x1 + 4] *= factor
    return dataclasses.replace(face, image=image)


def test_a_closed_lid_under_a_shadowed_brow_is_lit_like_the_skin_under_the_eye(astronaut_face):
    """A closed lid bulges forward and catches the light: under a brow's shadow it is not painted in that shadow's
    colour (a dark blot on every blink) but at least about as lit as the skin under the eye. A band above the eye far
    darker than any shadowed skin (hair, a frame) is not lit up as skin."""
    for factor, lit in ((0.35, True), (0.04, False)):
        face = _shade_above_the_eyes(astronaut_face, factor)
        frames, _ = render_frames(face, motion(2, closure=[0.0, 1.0]), RenderOptions())
        for ring in EYE_RINGS:
            x0, y0, x1, y1 = region(face, ring, pad=0)
            top, bottom = image_points(face)[[ring[4], ring[12]], 1].tolist()
            closed = top + 0.9 * (bottom - top)
            w, h = x1 - x0, y1 - y0
            lid = luma(frames[1, round(top) + 1:round(closed) - 2, x0 + w // 4:x1 - w // 4]).mean()
            under = luma(frames[0, y1 + h // 2:y1 + h, x0 + w // 4:x1 - w // 4]).median()
            # (Before, the lid took the shadow's colour: 0.30 of the skin under the eye; now 0.60.)
            assert (lid > 0.5 * under) == lit, (factor, float(lid / under))


def test_a_closed_eye_takes_no_light_from_a_bright_cheek_under_it(astronaut_face):
    """The raised lower lid is the lower lid's own skin: a cheek lit far brighter below it (side light) does not
    paint a pale crescent under the closed lid's lash line. The astronaut's skin from half an eye's height under
    each eye down is lit 1.8x; the lower lid itself is left as it is."""
    lit_image = astronaut_face.image.clone()
    for ring in EYE_RINGS:
        x0, y0, x1, y1 = region(astronaut_face, ring, pad=0)
        h = y1 - y0
        cheek = lit_image[y1 + h // 2:y1 + 3 * h, x0 - 4:x1 + 4]
        cheek[:] = (cheek * 1.8).clamp(0, 1)
    lit = dataclasses.replace(astronaut_face, image=lit_image)
    closed = [render_frames(face, motion(1, closure=1.0), RenderOptions())[0][0] for face in (astronaut_face, lit)]
    for ring in EYE_RINGS:
        x0, y0, x1, y1 = region(astronaut_face, ring, pad=0)
        top, bottom = image_points(astronaut_face)[[ring[4], ring[12]], 1].tolist()
        w = x1 - x0
        lower = [luma(frame[round(top + 0.8 * (bottom - top)):round(bottom) + 1, x0 + w // 4:x1 - w // 4]).mean()
                 for frame in closed]
        # (Read from the cheek, the raised lower lid took its light: +0.075 luma here, a pale crescent.)
        assert abs(float(lower[1] - lower[0])) < 0.02, [float(x) for x in lower]


def test_a_closed_eye_covers_the_iris_the_mesh_leaves_under_its_lower_margin():
    """Where the face mesh puts the lower-lid margin across the iris (infant_baby_turned's round eyes), the iris
    reaches below it; a closed lid covers that too instead of leaving a dark crescent under its lash line. The
    astronaut (at 1024 px, eyes 40 px wide) gets an iris reaching 4 px below the middle half of each lower margin."""
    face = make_face(1024)
    image = face.image.clone()
    xy = image_points(face)
    bands = []
    for ring in EYE_RINGS:
        x0, y0, x1, y1 = region(face, ring, pad=0)
        bottom, w = round(float(xy[ring[12], 1])), x1 - x0
        image[bottom - 1:bottom + 4, x0 + w // 4:x1 - w // 4] = 0.06  # the middle half of the eye
        bands.append((bottom + 1, bottom + 3, x0 + w // 3, x1 - w // 3))
    face = dataclasses.replace(face, image=image)
    expression = face.beta_0.float().repeat(2, 1)
    closed = Motion(expression, torch.zeros(2, 6), torch.tensor([[0.0, 0.0], [1.0, 1.0]]), 25.0, "embedded-v1")
    frames, _ = render_frames(face, closed, RenderOptions())
    for (ya, yb, xa, xb), ring in zip(bands, EYE_RINGS):
        y1 = region(face, ring, pad=0)[3]
        under = luma(frames[0, y1 + 8:y1 + 14, xa:xb]).median()  # the skin under the eye
        assert luma(frames[0, ya:yb, xa:xb]).max() < 0.1  # the open eye shows the iris there
        # (Before: the iris stayed as it is, 0.06, under the closed lash line.)
        assert luma(frames[1, ya:yb, xa:xb]).min() > 0.5 * under, (float(luma(frames[1, ya:yb, xa:xb]).min()),
                                                                    float(under))


def test_closed_lid_leaves_no_liner_standing_above_it(astronaut_face):
    """Eyeliner travels down with the lid margin: a closed lid leaves no dark arc of it where the open margin was
    (the "goggles" look of made-up eyes). The astronaut is given a liner from each open upper margin 0.55 of the way
    up to the crease; closed, the upper part of that band is lid skin again."""
    import cv2

    topology, xy = render_topology(), image_points(astronaut_face).numpy()
    image = astronaut_face.image.numpy().copy()
    liners, lids = [], []
    for eye in range(2):
        margin = xy[topology.eye_upper[eye].numpy()]
        crease = xy[topology.lid_crease[eye].numpy()]
        rows = [margin[1:-1] + share * (crease - margin[1:-1]) for share in (0.3, 0.55)]
        mask, upper = (np.zeros(image.shape[:2], np.uint8) for _ in range(2))
        cv2.fillPoly(mask, [np.concatenate([margin, rows[1][::-1]]).round().astype(np.int32)], 1)
        cv2.fillPoly(upper, [np.concatenate([rows[0], rows[1][::-1]]).round().astype(np.int32)], 1)
        x0, x1 = margin[:, 0].min(), margin[:, 0].max()
        upper[:, :int(x0 + 0.3 * (x1 - x0))] = upper[:, int(x1 - 0.3 * (x1 - x0)):] = 0  # the middle of the eye
        liners.append(torch.from_numpy(upper.astype(bool)))  # the liner's upper part, where an arc would stay
        lower = xy[topology.eye_lower[eye].numpy()]
        lid = np.zeros_like(mask)  # the closed lid below the open margin: 40 % of the way to the lower margin
        lid_bottom = margin + 0.4 * (lower - margin)
        cv2.fillPoly(lid, [np.concatenate([margin, lid_bottom[::-1]]).round().astype(np.int32)], 1)
        lid[:, :int(x0 + 0.3 * (x1 - x0))] = lid[:, int(x1 - 0.3 * (x1 - x0)):] = 0
        lids.append(torch.from_numpy(lid.astype(bool)))
        image[mask.astype(bool)] *= 0.25
    made_up = dataclasses.replace(astronaut_face, image=torch.from_numpy(image))
    frames, _ = render_frames(made_up, motion(2, closure=[0.0, 1.0]), RenderOptions())
    for liner, lid in zip(liners, lids):
        skin = float(luma(frames[1])[lid].median())  # the closed lid's own skin
        assert float(luma(frames[0])[liner].mean()) < 0.5 * skin  # the liner is there on the open eye
        closed = luma(frames[1])[liner]
        # (With the lid starting at the lashes' height, 0.35 of the band: 0.53 of the lid's skin; now 0.93.)
        assert float(closed.quantile(0.1)) > 0.8 * skin, (float(closed.quantile(0.1)), skin)


def test_a_closed_lid_over_white_the_mesh_leaves_above_its_margin_is_skin_not_white():
    """Where the face mesh draws the upper-lid margin across the eye (painting_turned_girl's turned near eye), the
    white of the eye shows above it: the margin is that much too low. The lid's colour was read from above the margin
    (from the white: a grey-white closed lid, a white wedge above its inner corner); now from above the white. The
    astronaut (at 1024 px) gets white from each open upper margin 0.9 of the way up to its crease."""
    import cv2

    face = make_face(1024)
    topology, xy = render_topology(), image_points(face).numpy()
    image = face.image.numpy().copy()
    lids = []
    for eye in range(2):
        margin = xy[topology.eye_upper[eye].numpy()]
        crease = xy[topology.lid_crease[eye].numpy()]
        white = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(white, [np.concatenate([margin, (margin[1:-1] + 0.9 * (crease - margin[1:-1]))[::-1]])
                             .round().astype(np.int32)], 1)
        image[white.astype(bool)] = 0.95
        lower = xy[topology.eye_lower[eye].numpy()]
        lid = np.zeros_like(white)  # the closed lid below the open margin: 40 % of the way to the lower margin
        cv2.fillPoly(lid, [np.concatenate([margin, (margin + 0.4 * (lower - margin))[::-1]]).round().astype(np.int32)],
                     1)
        lids.append(torch.from_numpy(lid.astype(bool)))
    whitened = dataclasses.replace(face, image=torch.from_numpy(image))
    assert (FlowRenderer(whitened, RenderOptions()).sclera_over > 2.0).all()  # px of white read above each margin
    assert (FlowRenderer(face, RenderOptions()).sclera_over == 0).all()  # none on the astronaut's own eyes
    grey = luma(whitened.image)[..., None]
    grey = dataclasses.replace(whitened, image=grey + 0.03 * (whitened.image - grey))  # a nearly grey print
    assert (FlowRenderer(grey, RenderOptions()).sclera_over == 0).all()  # there a lit lid is as grey as the white
    frames, _ = render_frames(whitened, motion(2, closure=[0.0, 1.0]), RenderOptions())
    for lid in lids:
        colour = float(saturation(frames[1][lid]).median())  # skin is colourful, the white is not
        # (Before: 0.14, the white's grey on the closed lid; now 0.22 / 0.19, the skin above it.)
        assert colour > 0.18, colour


def test_a_lid_a_third_down_paints_nothing_over_the_bottom_of_the_eye(astronaut_face):
    """The raised lower lid comes in only as the upper one nears it: a third of the way down, the lowest 30 % of the
    open eye (where the source shows the bottom of the iris) is the open eye's own, not a band of lower-lid skin."""
    frames, _ = render_frames(astronaut_face, motion(2, closure=[0.0, 0.3]), RenderOptions())
    topology, xy = render_topology(), image_points(astronaut_face)
    for eye in range(2):
        upper, lower = xy[topology.eye_upper[eye]], xy[topology.eye_lower[eye]]
        x0, x1 = float(upper[:, 0].min()), float(upper[:, 0].max())
        middle = slice(int(x0 + 0.35 * (x1 - x0)), int(x1 - 0.35 * (x1 - x0)))
        centre = len(lower) // 2
        bottom, gap = float(lower[centre, 1]), float((upper[centre] - lower[centre]).norm())
        rows = slice(int(bottom - 0.3 * gap), int(bottom))
        # (Painted from the start, the lower lid changed a pixel there by 0.017 on one of the astronaut's eyes.)
        assert float((frames[1, rows, middle] - frames[0, rows, middle]).abs().amax()) < 0.005


def test_chunk_frames_per_device():
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert chunk_frames(5, gpu, 512 * 512) == 5 and chunk_frames(5, cpu, 512 * 512) == 5  # an explicit size wins
    assert chunk_frames(0, cpu, 64 * 64) == chunk_frames(0, cpu, 4096 * 4096) == 8
    sizes = [chunk_frames(0, gpu, side * side) for side in (128, 512, 1024, 2048, 8192)]
    assert sizes[0] == sizes[1] == 64 and sizes == sorted(sizes, reverse=True) and sizes[-1] == 8


def test_chunks_rendered_side_by_side_give_the_same_frames_in_order(astronaut_face, monkeypatch):
    """MODIT_CPU_RENDER_WORKERS=2 renders two chunks at a time on threads; the frames are those of one chunk at a
    time, bit for bit."""
    T = 11
    ramp = torch.linspace(0, 1, T)
    moving = motion(T, jaw=0.6 * ramp, closure=ramp.flip(0), yaw=0.1 * ramp)
    options = RenderOptions(chunk_size=2)
    monkeypatch.delenv(renderer_module.WORKERS_VARIABLE, raising=False)
    alone, alone_masks = render_frames(astronaut_face, moving, options)
    monkeypatch.setenv(renderer_module.WORKERS_VARIABLE, "2")
    if renderer_module.render_workers(torch.device("cpu")) < 2:
        pytest.skip("this process may use one core only")
    together, together_masks = render_frames(astronaut_face, moving, options)
    assert torch.equal(alone, together) and torch.equal(alone_masks, together_masks)


def test_work_runs_ahead_on_threads_by_at_most_the_workers_and_stops_when_closed():
    import threading
    import time

    running, most, lock, started = [0], [0], threading.Lock(), []

    def work(item):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            started.append(item)
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return item * item

    assert list(renderer_module._in_order(work, range(7), 2)) == [(i, i * i) for i in range(7)]
    assert most[0] == 2
    assert list(renderer_module._in_order(work, range(3), 1)) == [(0, 0), (1, 1), (2, 4)]
    started.clear()
    taken = renderer_module._in_order(work, range(100), 2)
    assert next(taken) == (0, 0)
    taken.close()  # an error or Cancel in the caller: nothing more starts
    assert len(started) <= 3 and running[0] == 0


def test_render_workers_per_device(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.delenv(renderer_module.WORKERS_VARIABLE, raising=False)
    assert renderer_module.render_workers(cpu) == renderer_module.CPU_RENDER_WORKERS == 1
    monkeypatch.setenv(renderer_module.WORKERS_VARIABLE, "64")
    monkeypatch.setattr(renderer_module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert renderer_module.render_workers(cpu) == 2  # no more than the cores this process may use
    assert renderer_module.render_workers(torch.device("cuda")) == 1
    for bad in ("two", "0", "-1", "1.5"):
        monkeypatch.setenv(renderer_module.WORKERS_VARIABLE, bad)
        with pytest.raises(ValueError, match="MODIT_CPU_RENDER_WORKERS.*whole number of 1 or more"):
            renderer_module.render_workers(cpu)


def test_portrait_mouth_finds_what_the_renderer_finds(astronaut_face):
    """MoDiT Sample Expression asks whether a portrait's open mouth shows teeth (close_dark_mouth) before any
    renderer exists: measured on the face crop, the answer is the renderer's own (her smile shows its teeth)."""
    rendered = FlowRenderer(astronaut_face, RenderOptions()).mouth
    measured = renderer_module.portrait_mouth(astronaut_face)
    assert rendered.shows_teeth > 0.9 and abs(measured.shows_teeth - rendered.shows_teeth) < 0.05
    assert abs(measured.split - rendered.split) < 0.1
    assert abs(float(measured.skin_luma) - float(rendered.skin_luma)) < 0.03
