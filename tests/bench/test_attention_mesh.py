"""MediaPipe's attention mesh run as its converted graph (bench/attention_mesh.py, a second reading of how far apart a
portrait's lips are): its operators on constructed tensors, and, where its weight file was made
(python bench/attention_mesh.py --convert), what it reads on real portraits."""
import math
import os
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("cv2")

from comfyui_modit.modit import checkpoints
from comfyui_modit.modit.dit import speech_opening

from ..bench_files import load_bench_module

sys.modules.setdefault("_pack", load_bench_module("_pack"))  # attention_mesh imports it by name
attention = load_bench_module("attention_mesh")

FACES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "faces")
converted = pytest.mark.skipif(not os.path.isfile(attention.WEIGHTS),
                               reason=f"no {attention.WEIGHTS}: make it with python bench/attention_mesh.py --convert")


def test_a_missing_or_bare_weight_file_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="attention_mesh.py --convert"):
        attention.load_attention_mesh(str(tmp_path / "absent.safetensors"))
    path = str(tmp_path / "bare.safetensors")
    checkpoints.save_checkpoint(path, {"0": torch.zeros(1)}, {"licence": "Apache-2.0"})
    with pytest.raises(ValueError, match="attention_mesh.py --convert"):
        attention.load_attention_mesh(path)


def test_crop_with_a_shifting_matrix_reads_the_tensor_and_zero_outside():
    x = torch.arange(6 * 5 * 2, dtype=torch.float32).reshape(1, 6, 5, 2)
    matrix = torch.eye(4)[None].clone()
    matrix[0, 0, 3], matrix[0, 1, 3] = 1.0, 2.0  # (out_x + 1, out_y + 2): at unit scale v2's half-px shifts cancel
    out = attention.OPERATORS["TransformTensorBilinear"]([x, matrix], {"output_height": 5, "output_width": 5})
    assert out.shape == (1, 5, 5, 2)
    assert torch.equal(out[0, :4, :4], x[0, 2:6, 1:5])
    assert torch.all(out[0, 4] == 0) and torch.all(out[0, :, 4] == 0)  # past the tensor's last row / column


def test_matrix_from_a_level_square_centres_and_scales_it():
    square = torch.tensor([[10.0, 20.0, 0.0], [30.0, 20.0, 0.0], [30.0, 40.0, 0.0], [10.0, 40.0, 0.0]])[None]
    options = {"left_rotation_idx": 0, "right_rotation_idx": 1, "subset_idxs": [0, 1, 2, 3],
               "target_rotation_radians": 0.0, "output_width": 16, "output_height": 16, "scale_x": 1.5,
               "scale_y": 1.5}
    matrix = attention.OPERATORS["Landmarks2TransformMatrix"]([square], options)[0]
    centre = matrix[:2, :2] @ torch.tensor([8.0, 8.0]) + matrix[:2, 3]
    assert torch.allclose(centre, torch.tensor([20.0, 30.0]), atol=1e-4)  # the output's middle -> the box's middle
    assert torch.allclose(matrix[:2, :2], torch.eye(2) * 1.5 * 20 / 16, atol=1e-5)  # 1.5x the box over 16 px
    back = attention.OPERATORS["TransformLandmarks"]([torch.tensor([[[0.0, 0.0], [16.0, 16.0]]]), matrix[None]], {})
    assert torch.allclose(back[0], torch.tensor([[5.0, 15.0], [35.0, 45.0]]), atol=1e-4)


def test_turned_matrix_levels_the_two_points():
    angle = math.radians(30)
    R = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = torch.cat([torch.tensor([[-10.0, 0.0], [10.0, 0.0], [10.0, 5.0], [-10.0, 5.0]]) @ R.T,
                        torch.zeros(4, 1)], 1)[None]
    options = {"left_rotation_idx": 0, "right_rotation_idx": 1, "subset_idxs": [0, 1, 2, 3],
               "target_rotation_radians": 0.0, "output_width": 20, "output_height": 5, "scale_x": 1.0,
               "scale_y": 1.0}
    matrix = attention.OPERATORS["Landmarks2TransformMatrix"]([points], options)[0]
    corners = torch.tensor([[0.0, 0.0], [20.0, 0.0]]) @ matrix[:2, :2].T + matrix[:2, 3]
    assert torch.allclose(corners, points[0, :2, :2], atol=1e-4)  # the crop's top edge runs along the two points


def test_strided_slice_and_pad_follow_tflite():
    x = torch.arange(24.0).reshape(1, 2, 3, 4)
    begin, end, strides = torch.tensor([0, 1, 0, 1]), torch.tensor([1, 2, 3, 4]), torch.tensor([1, 1, 2, 2])
    options = {"begin_mask": 0b0100, "end_mask": 0, "shrink_axis_mask": 0b0001}
    out = attention.OPERATORS["STRIDED_SLICE"]([x, begin, end, strides], options)
    assert torch.equal(out, x[0, 1:2, 0:3:2, 1:4:2])
    padded = attention.OPERATORS["PAD"]([x, torch.tensor([[0, 0], [1, 0], [0, 2], [0, 0]])], {})
    assert padded.shape == (1, 3, 5, 4) and torch.equal(padded[:, 1:, :3], x) and padded[:, 0].abs().sum() == 0


@converted
def test_converted_graph_keeps_its_provenance_and_only_known_operators():
    constants, metadata = checkpoints.load_checkpoint(attention.WEIGHTS)
    assert metadata["licence"].startswith("Apache-2.0")
    assert metadata["source_file"] == "face_landmark_with_attention.tflite" and len(metadata["source_sha256"]) == 64
    graph = metadata["graph"]
    assert {op["op"] for op in graph["ops"]} <= set(attention.OPERATORS)
    assert attention.LIPS_OUTPUT in graph["outputs"]
    mesh = attention.load_attention_mesh()
    with pytest.raises(ValueError, match="one crop"):
        mesh(torch.zeros(2, attention.MESH_SIZE, attention.MESH_SIZE, 3))


@converted
def test_refined_lips_lie_on_the_mesh_lips_of_a_portrait():
    skimage_data = pytest.importorskip("skimage.data")
    from comfyui_modit.modit.face import landmarks as lm
    from comfyui_modit.modit.face.analysis import analyse_portrait

    face = analyse_portrait(torch.from_numpy(skimage_data.astronaut()).float() / 255)
    lips = attention.refined_lips(attention.load_attention_mesh(), face)
    assert lips.shape == (80, 2) and torch.isfinite(lips).all()
    mesh = face.landmarks[list(attention.REFINED_LIPS), :2]
    eyes = float((face.landmarks[lm.RIGHT_EYE_CORNERS[0], :2] - face.landmarks[lm.LEFT_EYE_CORNERS[0], :2]).norm())
    assert float((lips - mesh).norm(dim=-1).max()) < 0.1 * eyes  # the same lips, placed again
    # she smiles with her teeth showing: the attention mesh reads the lips apart
    refined = attention.with_refined_lips(face, lips)
    assert speech_opening.lips_apart(refined) > speech_opening.LIPS_TOGETHER[1]


@converted
@pytest.mark.skipif(not os.path.isdir(FACES), reason=f"the gallery portraits are not at {FACES}")
@pytest.mark.parametrize("name, together", [("large_frontal_man_closed_lips.jpg", True),
                                            ("boy_south_asian_closed_lips.jpg", True),
                                            ("young_woman_bangs_smile_teeth.jpg", False),
                                            ("big_smile_teeth_tilted_man.jpg", False)])
def test_real_portraits_read_together_or_apart(name, together):
    import cv2
    from comfyui_modit.modit.face.analysis import analyse_portrait

    path = os.path.join(FACES, name)
    if not os.path.isfile(path):
        pytest.skip(f"{name} is not in {FACES}")
    image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
    scale = min(1.0, 1024 / max(image.shape[:2]))
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    face = analyse_portrait(torch.from_numpy(np.ascontiguousarray(image)).float() / 255)
    lips = attention.refined_lips(attention.load_attention_mesh(), face)
    apart = speech_opening.lips_apart(attention.with_refined_lips(face, lips))
    assert (apart < speech_opening.LIPS_TOGETHER[0]) if together else (apart > speech_opening.LIPS_TOGETHER[1])
