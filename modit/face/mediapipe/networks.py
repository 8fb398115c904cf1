"""The four bundled MediaPipe networks: their classes, weight files, and a loader that checks keys and shapes."""
import logging

import torch

from ...checkpoints import bundled_path, check_state_dict, load_checkpoint
from .blazeface import BlazeFaceFull, BlazeFaceShort
from .facemesh import FaceMesh
from .iris import IrisLandmark

log = logging.getLogger(__name__)

NETWORKS = {
    "face_detection_short_range": BlazeFaceShort,
    "face_detection_full_range": BlazeFaceFull,
    "face_landmark": FaceMesh,
    "iris_landmark": IrisLandmark,
}
WEIGHT_FILES = {key: f"mediapipe_{key}.safetensors" for key in NETWORKS}


def load_network(key: str) -> torch.nn.Module:
    """Build network `key` and load its bundled weights (modit/weights/mediapipe_<key>.safetensors), in eval mode."""
    path = bundled_path(WEIGHT_FILES[key])
    try:
        state_dict, _ = load_checkpoint(path)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{path}: bundled MediaPipe weights missing; the pack install is incomplete, "
                                f"reinstall it or run scripts/convert_mediapipe.py") from error
    network = NETWORKS[key]()
    expected = {k: v.shape for k, v in network.state_dict().items()}
    check_state_dict(state_dict, expected, WEIGHT_FILES[key], f"MediaPipe {key}",
                     hint="regenerate it with scripts/convert_mediapipe.py")
    network.load_state_dict(state_dict)
    return network.eval().requires_grad_(False)
