"""The PyTorch MediaPipe face stack on real photographs, without the reference runtime or network access."""
import math

import numpy as np
import pytest
import torch

from comfyui_modit.modit import checkpoints
from comfyui_modit.modit.face.mediapipe import FaceStack, Region, crop_region, letterbox, to_image
from comfyui_modit.modit.face.mediapipe.blazeface import (FULL_RANGE, SHORT_RANGE, box_iou, generate_anchors,
                                                          weighted_nms)
from comfyui_modit.modit.face.mediapipe.layers import same_padding
from comfyui_modit.modit.face.mediapipe.networks import NETWORKS, WEIGHT_FILES, load_network
from comfyui_modit.modit.face.mediapipe.roi import EYE_CONTOUR_MESH_INDICES

skimage_data = pytest.importorskip("skimage.data")



@pytest.fixture(scope="module")
def stack():
    return FaceStack.load("cpu")


@pytest.fixture(scope="module")
def astronaut():
    return torch.from_numpy(skimage_data.astronaut().astype(np.float32) / 255)  # [512, 512, 3]


@pytest.fixture(scope="module")
def astronaut_face(stack, astronaut):
    faces = stack.detect(astronaut)
    assert len(faces) == 1
    return faces[0], stack.landmarks(astronaut, faces[0])


@pytest.mark.parametrize("key", sorted(NETWORKS))
def test_bundled_weights_load_with_expected_keys_and_provenance(key):
    state_dict, metadata = checkpoints.load_checkpoint(checkpoints.bundled_path(WEIGHT_FILES[key]))
    expected = NETWORKS[key]().state_dict()
    assert set(state_dict) == set(expected)
    assert all(state_dict[k].shape == expected[k].shape and state_dict[k].dtype == torch.float32 for k in expected)
    assert metadata["licence"].startswith("Apache-2.0")
    assert len(metadata["source_sha256"]) == 64 and metadata["source_file"].endswith(".tflite")
    assert not load_network(key).training


def test_damaged_weights_are_named_with_the_fix(tmp_path, monkeypatch):
    from comfyui_modit.modit.face.mediapipe import networks

    state_dict, _ = checkpoints.load_checkpoint(checkpoints.bundled_path(WEIGHT_FILES["iris_landmark"]))
    state_dict["iris_head.weight"] = state_dict["iris_head.weight"][:3]
    checkpoints.save_checkpoint(str(tmp_path / WEIGHT_FILES["iris_landmark"]), state_dict)
    monkeypatch.setattr(networks, "bundled_path", lambda name: str(tmp_path / name))
    with pytest.raises(ValueError, match=r"mediapipe_iris_landmark.safetensors.*iris_head.weight.*convert_mediapipe"):
        networks.load_network("iris_landmark")
    with pytest.raises(FileNotFoundError, match="convert_mediapipe"):
        networks.load_network("face_landmark")


def test_same_padding_is_tflite_asymmetric():
    assert same_padding(128, 5, 2) == (1, 2)  # BlazeFace stem
    assert same_padding(64, 3, 2) == (0, 1)  # every stride-2 depthwise: nothing before, one after
    assert same_padding(64, 3, 1) == (1, 1)
    assert same_padding(6, 3, 2) == (0, 1)


def test_anchors_follow_the_ssd_layout():
    short = generate_anchors(SHORT_RANGE)
    assert short.shape == (896, 2)
    assert torch.allclose(short[0], torch.tensor([0.5 / 16, 0.5 / 16])) and torch.equal(short[0], short[1])
    assert torch.allclose(short[512], torch.tensor([0.5 / 8, 0.5 / 8])) and torch.equal(short[512], short[517])
    full = generate_anchors(FULL_RANGE)
    assert full.shape == (2304, 2) and torch.allclose(full[48], torch.tensor([0.5 / 48, 1.5 / 48]))


def test_weighted_nms_merges_overlaps_by_score_and_keeps_separate_faces():
    boxes = torch.zeros(3, 8, 2)
    boxes[0, :2] = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    boxes[1, :2] = torch.tensor([[0.1, 0.0], [1.1, 1.0]])  # IoU 0.82 with box 0
    boxes[2, :2] = torch.tensor([[5.0, 5.0], [6.0, 6.0]])
    faces = weighted_nms(torch.tensor([0.9, 0.6, 0.7]), boxes, 0.5, 0.3)
    assert [round(score, 3) for _, score in faces] == [0.9, 0.7]
    assert torch.allclose(faces[0][0][0, 0], torch.tensor(0.6 * 0.1 / 1.5))  # score-weighted mean
    assert weighted_nms(torch.tensor([0.4]), boxes[:1], 0.5, 0.3) == []
    assert float(box_iou(boxes[0, :2].reshape(4), boxes[1:2, :2].reshape(1, 4))) == pytest.approx(0.9 / 1.1)


def test_detects_the_astronaut_with_keypoints_in_mediapipe_order(stack, astronaut, astronaut_face):
    face, _ = astronaut_face
    x0, y0, x1, y1 = face.box_xyxy.tolist()
    assert face.score > 0.9 and 160 < x0 < x1 < 290 and 60 < y0 < y1 < 190 and 70 < x1 - x0 < 130
    right_eye, left_eye, nose, mouth, right_ear, left_ear = face.keypoints
    assert right_ear[0] < right_eye[0] < nose[0] < left_eye[0] < left_ear[0]  # subject's right on the image left
    assert max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]
    full = stack.detect(astronaut, model="full")
    assert len(full) == 1 and float(box_iou(face.box_xyxy, full[0].box_xyxy[None])) > 0.7


def test_detection_maps_back_through_the_letterbox(stack, astronaut, astronaut_face):
    face, _ = astronaut_face
    for shift in ([0, 64], [100, 0]):  # tall and wide canvases: letterboxed with bars on the other axis
        canvas = torch.zeros(512 + shift[1], 512 + shift[0], 3)
        canvas[shift[1]:shift[1] + 512, shift[0]:shift[0] + 512] = astronaut
        moved = stack.detect(canvas)
        assert len(moved) == 1
        # the face lands on other 128-px input pixels (1 input px = 4-5 image px here): the detector's own
        # jitter, far below the 64 / 100 px a wrong letterbox offset would cause
        assert torch.allclose(moved[0].box_xyxy, face.box_xyxy + torch.tensor(shift * 2), atol=8)
        eyes_nose_mouth = moved[0].keypoints[:4]  # the ear points jitter more
        assert torch.allclose(eyes_nose_mouth, face.keypoints[:4] + torch.tensor(shift), atol=8)
    mirrored = stack.detect(astronaut.flip(1))
    assert len(mirrored) == 1
    expected = torch.tensor([512 - face.box_xyxy[2], face.box_xyxy[1], 512 - face.box_xyxy[0], face.box_xyxy[3]])
    assert torch.allclose(mirrored[0].box_xyxy, expected, atol=3)


@pytest.mark.parametrize("height, width", [(300, 200), (200, 300), (128, 128)])
def test_letterbox_maps_image_pixels_to_model_pixels(height, width):
    image = torch.zeros(height, width, 3)
    image[60:64, 100:104] = 1.0  # a 4x4 white square centred on image px (102, 62)
    tensor, scale, offset = letterbox(image, 128)
    assert tensor.shape == (1, 3, 128, 128) and tensor.min() >= 0 and tensor.max() <= 1
    weights = tensor[0, 0]
    ys, xs = torch.meshgrid(torch.arange(128) + 0.5, torch.arange(128) + 0.5, indexing="ij")
    centre = torch.stack([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()
    assert torch.allclose(centre, torch.tensor([102.0, 62.0]) * scale + offset, atol=0.05)


def test_no_face_in_a_blank_image(stack):
    assert stack.detect(torch.full((256, 320, 3), 0.5), model="auto") == []
    _, presence = stack.mesh(torch.full((1, 192, 192, 3), 0.5))
    assert float(presence[0]) < 0.5


def test_mesh_and_iris_agree_on_the_eye_corners(astronaut_face):
    face, result = astronaut_face
    assert result.presence > 0.9 and result.mesh.shape == (468, 3)
    x0, y0, x1, y1 = face.box_xyxy.tolist()
    assert (result.mesh[:, 0] > x0 - 20).all() and (result.mesh[:, 0] < x1 + 20).all()
    # Iris contour points 0 and 8 are the eye corners MediaPipe writes back into mesh points (33, 133) for the
    # unflipped eye and (263, 362) for the mirrored one: agreement proves the flip convention.
    for eye, (outer, inner) in enumerate(((33, 133), (263, 362))):
        contour = result.eye_contours[eye, :, :2]
        assert torch.linalg.norm(contour[0] - result.mesh[outer, :2]) < 3
        assert torch.linalg.norm(contour[8] - result.mesh[inner, :2]) < 3
        centre = result.irises[eye, 0, :2]
        low, high = torch.minimum(result.mesh[outer, :2], result.mesh[inner, :2]), torch.maximum(
            result.mesh[outer, :2], result.mesh[inner, :2])
        assert low[0] < centre[0] < high[0] and abs(float(centre[1] - (low[1] + high[1]) / 2)) < 5


def test_iris_lids_land_on_the_mesh_points_they_refine(astronaut_face):
    _, result = astronaut_face
    for eye, indices in enumerate(EYE_CONTOUR_MESH_INDICES):
        lids = result.eye_contours[eye, :16, :2]
        distance = torch.linalg.norm(lids - result.mesh[list(indices), :2], dim=1)
        assert float(distance.max()) < 3.0  # the eye is about 20 px wide here
        lower, upper = lids[1:8], lids[9:]
        assert float(lower[:, 1].mean()) > float(upper[:, 1].mean()) + 2  # lower lid below the upper (y down)


def test_landmarks_follow_a_rotated_portrait(stack, astronaut, astronaut_face):
    _, upright = astronaut_face
    view = Region(torch.tensor([256.0, 256.0]), 512.0, math.radians(25))
    rotated, matrix = crop_region(astronaut, view, 512)  # the portrait turned 25 degrees anticlockwise on screen
    faces = stack.detect(rotated)
    assert len(faces) == 1
    result = stack.landmarks(rotated, faces[0])
    back = to_image(result.mesh, matrix, 512, 512.0)
    error = torch.linalg.norm(back[:, :2] - upright.mesh[:, :2], dim=1)
    assert float(error.median()) < 2.0 and float(error.max()) < 8.0


def test_bad_inputs_name_the_expected_shape(stack):
    with pytest.raises(ValueError, match=r"\[B, 192, 192, 3\]"):
        stack.mesh(torch.zeros(1, 128, 128, 3))
    with pytest.raises(ValueError, match=r"\[B, 64, 64, 3\]"):
        stack.iris(torch.zeros(64, 64, 3))
    with pytest.raises(ValueError, match="short"):
        stack.detect(torch.zeros(64, 64, 3), model="far")
    assert FaceStack.load("cpu") is stack
