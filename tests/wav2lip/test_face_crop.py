"""Wav2Lip's face geometry on the face crop: box from the mesh, 96x96 BGR masked input, paste-back."""
import pytest
import torch

from comfyui_modit.modit.wav2lip.face_crop import (FACE_OVAL, FaceBox, crop_faces, face_box, paste_faces, paste_mask,
                                                   rgb_to_bgr, wav2lip_input)


def test_face_box_is_the_padded_oval_extent(make_face):
    face = make_face(128)  # oval: x in 128 * (0.2 .. 0.8), y in 128 * (0.1 .. 0.9)
    box = face_box(face.landmarks, 128, pads=(0, 10, 0, 0))
    oval = face.landmarks[list(FACE_OVAL)]
    assert box.x1 == int(oval[:, 0].min().floor()) and box.x2 == int(oval[:, 0].max().ceil())
    assert box.y1 == int(oval[:, 1].min().floor())
    assert box.y2 == int(oval[:, 1].max().ceil()) + 10  # Wav2Lip's default: 10 px more below the chin
    # inner mesh points do not widen the box
    moved = face.landmarks.clone()
    moved[0, :2] = torch.tensor([64.0, 64.0])
    assert face_box(moved, 128) == face_box(face.landmarks, 128)


def test_face_box_is_clipped_to_the_crop(make_face):
    face = make_face(128)
    box = face_box(face.landmarks, 128, pads=(40, 40, 40, 40))
    assert (box.x1, box.y1, box.x2, box.y2) == (0, 0, 128, 128)


def test_face_box_outside_the_crop_is_refused(make_face):
    landmarks = make_face(128).landmarks + 1000
    with pytest.raises(ValueError, match="face box"):
        face_box(landmarks, 128)


def test_box_rescales_with_the_frames():
    box = FaceBox(20, 10, 100, 120, 128)
    assert box.rescaled(256) == FaceBox(40, 20, 200, 240, 256)
    assert box.rescaled(128) is box


def test_colour_order_round_trips():
    rgb = torch.rand(2, 3, 5, 5)
    bgr = rgb_to_bgr(rgb)
    assert torch.equal(bgr[:, 0], rgb[:, 2]) and torch.equal(bgr[:, 2], rgb[:, 0]) and torch.equal(bgr[:, 1], rgb[:, 1])
    assert torch.equal(rgb_to_bgr(bgr), rgb)


def test_wav2lip_input_is_bgr_masked_target_plus_reference():
    faces = torch.zeros(1, 3, 96, 96)
    faces[:, 0] = 1.0  # pure red in RGB
    x = wav2lip_input(faces)
    assert x.shape == (1, 6, 96, 96)
    # BGR: red sits in channel 2 (target) and 5 (reference)
    assert x[0, 2, :48].eq(1).all() and x[0, 0].eq(0).all() and x[0, 5].eq(1).all() and x[0, 3].eq(0).all()
    assert x[0, :3, 48:].eq(0).all(), "the target's lower half (rows 48..95) must be zeroed"
    assert x[0, 5, 48:].eq(1).all(), "the reference stays whole"
    assert faces[0, 0].eq(1).all(), "the input is not modified"


def test_crop_then_paste_box_reproduces_the_frame():
    frames = torch.rand(2, 128, 128, 3)
    frames[:, 20:110, 30:100] = torch.linspace(0, 1, 70)[None, None, :, None]  # smooth inside the box
    box = FaceBox(30, 20, 100, 110, 128)
    faces = crop_faces(frames, box)
    assert faces.shape == (2, 3, 96, 96)
    pasted = paste_faces(frames, faces, box, blend="box")
    inside = (pasted - frames)[:, 20:110, 30:100].abs()
    assert inside.max() < 0.03  # a smooth image survives the 96 px round trip
    outside = torch.ones(128, 128, dtype=torch.bool)
    outside[20:110, 30:100] = False
    assert torch.equal(pasted[:, outside], frames[:, outside]), "pixels outside the box are never touched"


def test_feathered_paste_keeps_the_upper_face_and_takes_the_mouth():
    frames = torch.zeros(1, 128, 128, 3)
    box = FaceBox(20, 10, 108, 118, 128)
    faces = torch.ones(1, 3, 96, 96)
    pasted = paste_faces(frames, faces, box, blend="feathered")
    assert pasted[0, 10:10 + 54].eq(0).all(), "the upper half of the box keeps the crop"
    mouth_row = 10 + int(0.78 * 108)
    assert pasted[0, mouth_row, 64].min() > 0.99, "the mouth comes from Wav2Lip"
    assert frames.eq(0).all(), "the input frames are not modified"


def test_paste_mask_ramps_monotonically_down_the_box():
    alpha = paste_mask(100, 80)[:, 40, 0]
    assert alpha[:50].eq(0).all()
    middle = alpha[50:88]
    assert (middle[1:] >= middle[:-1]).all() and alpha[80] == 1


def test_unknown_blend_is_refused():
    with pytest.raises(ValueError, match="blend"):
        paste_faces(torch.zeros(1, 8, 8, 3), torch.zeros(1, 3, 96, 96), FaceBox(0, 0, 8, 8, 8), blend="soft")
