"""Fixtures for the face tests: a FaceStack (the embedded port, or the LiteRT stand-in while developing) and the
astronaut portrait analysed once per session."""
import importlib.util
import os

import pytest
import torch


def _make_stack():
    try:
        from comfyui_modit.modit.face.mediapipe import FaceStack
        return FaceStack.load(device="cpu")
    except ImportError:
        pass
    if importlib.util.find_spec("ai_edge_litert") is None:
        pytest.skip("no FaceStack: modit/face/mediapipe is missing and ai-edge-litert is not installed")
    from .litert_stack import DATA, LiteRTFaceStack
    if not os.path.isfile(os.path.join(DATA, "face_landmark.tflite")):
        pytest.skip(f"no FaceStack: modit/face/mediapipe is missing and no .tflite files in {DATA}")
    return LiteRTFaceStack.load()


@pytest.fixture(scope="session")
def stack():
    return _make_stack()


@pytest.fixture(scope="session")
def astronaut():
    import skimage.data
    return torch.from_numpy(skimage.data.astronaut()).float() / 255.0  # [512, 512, 3]


@pytest.fixture(scope="session")
def astronaut_face(stack, astronaut):
    from comfyui_modit.modit.face.analysis import analyse_portrait
    return analyse_portrait(astronaut, stack=stack)
