"""analyse_portrait on a real photo: jaw_open follows an opened mouth, openness follows a closed eye, pose mirrors."""
import logging
import math

import cv2
import numpy as np
import pytest
import torch

from comfyui_modit.modit.face import components
from comfyui_modit.modit.face import landmarks as lm
from comfyui_modit.modit.face.analysis import analyse_portrait, image_landmarks, preview


def _open_mouth(image: torch.Tensor, face) -> torch.Tensor:
    """Drop the lower lip, lower teeth and chin of the photo (cv2.remap) and fill the gap with a dark mouth."""
    points = image_landmarks(face)[:, :2].numpy()
    line_y = points[[lm.UPPER_LIP_MID_INNER, lm.LOWER_LIP_MID_INNER], 1].mean()
    chin_y = points[lm.CHIN, 1]
    mouth_x = points[[lm.MOUTH_CORNER_RIGHT, lm.MOUTH_CORNER_LEFT], 0]
    centre_x, half_width = mouth_x.mean(), (mouth_x[1] - mouth_x[0]) / 2
    drop = 0.4 * (chin_y - line_y)  # px the jaw moves down at the mouth's centre
    H, W = image.shape[:2]
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    # The jaw's drop across the face: full under the mouth, none beyond the cheeks (jaw rotation, seen from front).
    across = np.clip(1 - ((xs - centre_x) / (1.8 * half_width)) ** 2, 0, 1)
    below = 0.5 * (1 + np.tanh((ys - line_y) / 2.0))  # a sharp step at the lip line: the lips part
    fade = np.clip(1 - (ys - chin_y - drop) / (0.5 * (chin_y - line_y)), 0, 1)  # back to the neck below the chin
    shift = (drop * across * below * fade).astype(np.float32)
    warped = cv2.remap(image.numpy(), xs, ys - shift, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # The opening: a lens between the corners, as tall as the local drop, dark red-brown like a mouth interior.
    lens = np.clip(1 - ((xs - centre_x) / (0.9 * half_width)) ** 2, 0, 1)
    gap = ((ys > line_y) & (ys < line_y + drop * across * np.sqrt(lens))).astype(np.float32)
    gap = cv2.GaussianBlur(gap, (0, 0), 0.8)[..., None]
    warped = warped * (1 - gap) + np.array([0.22, 0.07, 0.07], np.float32) * gap
    return torch.from_numpy(warped.astype(np.float32))


def _close_eye(image: torch.Tensor, face, which: int) -> torch.Tensor:
    """Paint skin (from under the eye) over the eye opening of eye `which` (0 = subject's left, 1 = right)."""
    contour = face.extras["eye_contours"][which, :16, :2]
    contour = torch.cat([contour, torch.ones(16, 1)], 1) @ face.crop_to_image.float().T  # image px
    pts = contour.numpy()
    centre = pts.mean(0)
    width = np.linalg.norm(pts[0] - pts[8])
    canvas = image.numpy().copy()
    mask = np.zeros(canvas.shape[:2], np.uint8)
    hull = ((pts - centre) * np.array([1.15, 1.6]) + centre).astype(np.int32)
    cv2.fillPoly(mask, [hull], 255)
    sx, sy = int(centre[0]), int(centre[1] + 0.45 * width)
    skin = canvas[sy - 2:sy + 3, sx - 4:sx + 5].reshape(-1, 3).mean(0)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 1.0)[..., None]
    canvas = canvas * (1 - soft) + skin * soft
    lid = ((pts[[0, 8]] - centre) * np.array([1.05, 1.0]) + centre).astype(np.int32)
    cv2.line(canvas, tuple(lid[0]), tuple(lid[1]), tuple(float(c) * 0.45 for c in skin), 1, cv2.LINE_AA)
    return torch.from_numpy(canvas.astype(np.float32))


def test_face_fields(astronaut_face, astronaut):
    face = astronaut_face
    assert face.space == components.SPACE_NAME
    assert face.beta_0.shape == (components.NUM_COMPONENTS,)
    assert face.crop.shape == (512, 512, 3) and face.image.shape == astronaut.shape
    assert 0.8 < face.score <= 1.0
    # Landmarks sit inside the crop and map back onto the photo's face (the eyes at ~(205, 100) and ~(247, 104)).
    assert face.landmarks[:, :2].min() > 0 and face.landmarks[:, :2].max() < 512
    eyes = image_landmarks(face)[[468 - 1 - 0, 0]]  # any two points: just check the mapping is finite
    assert torch.isfinite(eyes).all()
    right_eye = image_landmarks(face)[list(lm.RIGHT_EYE), :2].mean(0)
    assert torch.allclose(right_eye, torch.tensor([204.0, 101.0]), atol=6)
    # Irises lie inside their eyes, left eye (subject's) on the viewer's right.
    assert face.iris[0, 0, 0] > face.iris[1, 0, 0]
    assert ((face.eye_openness > 0.75) & (face.eye_openness < 1.25)).all(), face.eye_openness
    assert abs(face.pose[0]) < 0.15 and abs(face.pose[1]) < 0.25, "a near-frontal portrait"
    assert face.pose[5] > 100, "scale: crop px per canonical unit (eye-corner distance)"


def test_open_mouth_raises_jaw_open(stack, astronaut, astronaut_face):
    opened = _open_mouth(astronaut, astronaut_face)
    face = analyse_portrait(opened, stack=stack)
    before = float(astronaut_face.beta_0[components.JAW_OPEN])
    after = float(face.beta_0[components.JAW_OPEN])
    # The mesh follows the synthetic drop only partly (lower lip ~7 px of the 11 px warped) and the fit shares the
    # change with lower_lip_drop / corners_down, so the margin is modest: about +0.14 with the embedded stack.
    assert after > before + 0.1, f"jaw_open {before:.2f} -> {after:.2f} after opening the mouth"


def test_closed_eye_lowers_openness(stack, astronaut, astronaut_face):
    closed = _close_eye(astronaut, astronaut_face, which=1)  # the subject's right eye
    face = analyse_portrait(closed, stack=stack)
    assert face.eye_openness[1] < 0.4, f"painted-shut eye reads {face.eye_openness.tolist()}"
    assert face.eye_openness[1] < astronaut_face.eye_openness[1] - 0.5
    assert face.eye_openness[0] > 0.6, "the other eye stays open"


def test_mirrored_image_mirrors_yaw_and_roll(stack, astronaut):
    M = cv2.getRotationMatrix2D((256, 256), 12, 1.0)  # a visible head roll (counter-clockwise on screen)
    rolled = torch.from_numpy(cv2.warpAffine(astronaut.numpy(), M, (512, 512), borderMode=cv2.BORDER_REFLECT))
    face = analyse_portrait(rolled, stack=stack)
    mirrored = analyse_portrait(rolled.flip(1), stack=stack)
    assert face.pose[2] < -math.radians(6), "counter-clockwise on screen is negative roll"
    assert abs(float(face.pose[2] + mirrored.pose[2])) < math.radians(2)
    assert abs(float(face.pose[0] + mirrored.pose[0])) < math.radians(3)
    assert abs(float(face.pose[1] - mirrored.pose[1])) < math.radians(3), "pitch does not mirror"
    # The subject's left eye in the mirror is the right eye of the original.
    assert abs(float(face.eye_openness[0] - mirrored.eye_openness[1])) < 0.15


def _turn(image: torch.Tensor, centre_x: float, shift: float) -> torch.Tensor:
    """Fake a small head turn: slide the inner face sideways by `shift` px, tapering to 0 at ~190 px (cv2.remap)."""
    H, W = image.shape[:2]
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    u = (xs - centre_x) / 60.0
    source_x = xs - shift * 0.5 * (1 + np.cos(np.clip(u, -np.pi, np.pi)))
    return torch.from_numpy(cv2.remap(image.numpy(), source_x.astype(np.float32), ys, cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REFLECT))


def test_mirrored_turn_mirrors_yaw(stack, astronaut, astronaut_face):
    nose_x = float(image_landmarks(astronaut_face)[lm.NOSE_TIP, 0])
    turned = _turn(astronaut, nose_x, 24.0)  # features slide to the viewer's right: a turn to the right
    face = analyse_portrait(turned, stack=stack)
    mirrored = analyse_portrait(turned.flip(1), stack=stack)
    assert face.pose[0] > math.radians(2), f"yaw {math.degrees(face.pose[0]):.1f} deg"
    assert mirrored.pose[0] < -math.radians(2), f"mirrored yaw {math.degrees(mirrored.pose[0]):.1f} deg"
    assert abs(float(face.pose[0] + mirrored.pose[0])) < math.radians(2)


def test_image_formats(stack, astronaut, astronaut_face):
    gray = astronaut.mean(-1, keepdim=True)
    rgba = torch.cat([astronaut, torch.ones(512, 512, 1)], -1)
    batch = torch.stack([astronaut.half(), torch.zeros(512, 512, 3).half()])  # fp16 batch: first frame used
    for image in (gray[None], rgba[None], batch):
        face = analyse_portrait(image, stack=stack)
        assert face.image.dtype == torch.float32 and face.image.shape == (512, 512, 3)
        assert (face.landmarks - astronaut_face.landmarks)[:, :2].abs().mean() < 3.0
    big = torch.nn.functional.interpolate(astronaut.permute(2, 0, 1)[None], scale_factor=4, mode="bilinear")
    face = analyse_portrait(big[0].permute(1, 2, 0), stack=stack)
    assert abs(face.pose[5] - astronaut_face.pose[5]) / astronaut_face.pose[5] < 0.05, "the crop normalises size"


def test_a_small_face_in_a_large_photo_is_found_past_a_false_box_around_it(stack, astronaut):
    # The astronaut at 200 px in the middle of a 1000 px grey photo: shrunk to the detector's 128 px, the whole
    # image's only box (score ~0.6) frames the small picture, and the mesh sees no face in it; a tile finds the face.
    small = torch.nn.functional.interpolate(astronaut.permute(2, 0, 1)[None], size=(200, 200), mode="area")
    photo = torch.full((1000, 1000, 3), 0.4)
    photo[400:600, 400:600] = small[0].permute(1, 2, 0)
    face = analyse_portrait(photo, stack=stack)
    nose_tip = image_landmarks(face)[1, :2]
    expected = image_landmarks(analyse_portrait(astronaut, stack=stack))[1, :2] * 200 / 512 + 400
    assert (nose_tip - expected).norm() < 5.0, (nose_tip.tolist(), expected.tolist())
    with pytest.raises(ValueError, match="crop it around the face"):
        analyse_portrait(torch.full((1200, 1600, 3), 0.5), stack=stack)


def test_a_small_face_in_a_4000_px_photo_is_found_by_finer_tiles(stack, astronaut):
    # The astronaut at 320 px (a face of about 60 px) in a 4000 x 3000 photo: 2 x 2 and 3 x 3 tiles, shrunk to the
    # detector's input, leave the face a few px; 5 x 5 and 8 x 8 tiles (>= 512 px each) find it.
    small = torch.nn.functional.interpolate(astronaut.permute(2, 0, 1)[None], size=(320, 320), mode="area")
    photo = torch.full((3000, 4000, 3), 0.4)
    photo[1800:2120, 2500:2820] = small[0].permute(1, 2, 0)
    nose_tip = image_landmarks(analyse_portrait(photo, stack=stack))[1, :2]
    expected = image_landmarks(analyse_portrait(astronaut, stack=stack))[1, :2] * 320 / 512 + torch.tensor(
        [2500.0, 1800.0], dtype=nose_tip.dtype)
    assert (nose_tip - expected).norm() < 6.0, (nose_tip.tolist(), expected.tolist())


def test_face_index_and_errors(stack, astronaut):
    with pytest.raises(ValueError, match="no face found.*best score"):
        analyse_portrait(torch.full((256, 256, 3), 0.5), stack=stack)
    with pytest.raises(ValueError, match="too small"):
        analyse_portrait(torch.rand(1, 20, 20, 3), stack=stack)
    with pytest.raises(ValueError, match="C = 1..4"):
        analyse_portrait(torch.rand(1, 64, 64, 5), stack=stack)
    with pytest.raises(ValueError, match="only 1 face"):
        analyse_portrait(astronaut, face_index=3, stack=stack)
    assert analyse_portrait(astronaut, face_index=0, stack=stack).score > 0.8


def test_preview_draws(astronaut_face):
    shown = preview(astronaut_face)
    assert shown.shape == (512, 512, 3) and 0 <= shown.min() and shown.max() <= 1
    assert (shown - astronaut_face.crop).abs().sum(-1).gt(0.1).float().mean() > 0.01, "annotations are visible"


def test_two_faces_of_about_the_same_size_say_which_one_is_animated(stack, astronaut, caplog):
    # An interview's split screen: "the largest" face is then a matter of a few px of box, so the log says which one
    # moves and how to pick the other. One face alone says nothing.
    pair = torch.cat([astronaut, astronaut.flip(1)], 1)  # [512, 1024, 3]
    with caplog.at_level(logging.WARNING, logger="comfyui_modit.modit.face.analysis"):
        face = analyse_portrait(pair, stack=stack)
    warned = [r.getMessage() for r in caplog.records if "about the same size" in r.getMessage()]
    assert len(warned) == 1 and "face_index" in warned[0], warned
    centre = float(image_landmarks(face)[:, 0].mean()) / 1024
    assert f"{round(100 * centre)} %" in warned[0], (warned, centre)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="comfyui_modit.modit.face.analysis"):
        analyse_portrait(astronaut, stack=stack)
        analyse_portrait(pair, face_index=1, stack=stack)
    assert not [r for r in caplog.records if "about the same size" in r.getMessage()]


def test_a_portrait_turned_upside_down_is_meshed_the_right_way_round(stack, astronaut):
    # Turned 180 degrees, the detector's keypoints take the face for upright, eyes where its mouth is; the mesh run
    # that way round found a face there (presence 0.7) and the render drew a mouth on the forehead.
    upright = image_landmarks(analyse_portrait(astronaut, stack=stack))[:, :2]
    turned = analyse_portrait(astronaut.flip(0).flip(1), stack=stack)
    H, W = astronaut.shape[:2]
    back = torch.tensor([W - 1.0, H - 1.0], dtype=upright.dtype) - image_landmarks(turned)[:, :2]
    for point in (1, 13, 14, 33, 263):  # nose tip, inner lips, outer eye corners
        assert (back[point] - upright[point]).norm() < 6.0, (point, back[point].tolist(), upright[point].tolist())
