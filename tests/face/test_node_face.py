"""MoDiT Extract 3DMM: validates, calls analyse_portrait, wraps; bad input fails with a message that helps."""
import pytest
import torch

from comfyui_modit.modit.face import analysis
from comfyui_modit.modit.types import Face
from comfyui_modit.nodes import run_node


@pytest.fixture
def node(stack, monkeypatch):
    monkeypatch.setattr(analysis, "default_stack", lambda device=None: stack)

    def extract(image, face_index, min_score, margin, detector, face_landmarks=None):
        inputs = {"face_landmarks": face_landmarks} if face_landmarks is not None else {}
        return run_node("MoDiTExtract3DMM", image=image, face_index=face_index, min_score=min_score, margin=margin,
                        detector=detector, **inputs)

    return extract


def test_node_outputs(node, astronaut):
    image = astronaut[None].half()
    before = image.clone()
    face, shown = node(image, face_index=-1, min_score=0.5, margin=0.4, detector="auto")
    assert isinstance(face, Face) and face.space == "embedded-v1"
    assert shown.shape == (1, 512, 512, 3) and shown.dtype == torch.float32
    assert torch.equal(image, before), "the node must not mutate its input"


def test_node_face_landmarks_input(node, astronaut, astronaut_face):
    from comfyui_modit.modit.face.analysis import image_landmarks
    points = image_landmarks(astronaut_face)[:, :2].numpy()
    box = [points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()]
    core = {"frames": [[{"bbox_xyxy": box, "landmarks_xy": points, "score": 0.9, "presence": 1.0}]],
            "image_size": (512, 512)}
    face, _ = node(astronaut[None], -1, 0.5, 0.4, "auto", face_landmarks=core)
    assert (face.landmarks - astronaut_face.landmarks)[:, :2].abs().mean() < 2.0
    with pytest.raises(ValueError, match="FACE_LANDMARKS"):
        node(astronaut[None], -1, 0.5, 0.4, "auto", face_landmarks=[1, 2])


def test_node_errors(node):
    with pytest.raises(ValueError, match="no face found.*lower min_score"):
        node(torch.full((1, 300, 200, 3), 0.3), -1, 0.5, 0.4, "auto")
    with pytest.raises(ValueError, match="batch is empty"):
        node(torch.zeros(0, 64, 64, 3), -1, 0.5, 0.4, "auto")
    with pytest.raises(ValueError, match="too small"):
        node(torch.rand(1, 8, 8, 3), -1, 0.5, 0.4, "auto")
