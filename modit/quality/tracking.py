"""Re-analyse rendered frames with the embedded face stack: per-frame mesh and eye openness for the metrics."""
import logging
from dataclasses import dataclass

import torch

from .. import comfy_adapter
from ..face.analysis import MIN_PRESENCE, default_stack
from ..face.eyes import openness

log = logging.getLogger(__name__)


@dataclass
class FaceTrack:
    landmarks: torch.Tensor  # [T, 468, 3] float32 image px (frames without a face repeat the last found)
    eye_openness: torch.Tensor  # [T, 2] float32 (subject's right, left): ~1 open, ~0 closed
    found: torch.Tensor  # [T] bool, True where a face was detected in that frame


def track_faces(frames: torch.Tensor, min_score: float = 0.5) -> FaceTrack:
    """The largest face in each frame of [T, H, W, 3] 0..1. Raises ValueError if no frame shows a face."""
    stack = default_stack()
    T = frames.shape[0]
    landmarks = torch.zeros(T, 468, 3)
    eyes = torch.zeros(T, 2)
    found = torch.zeros(T, dtype=torch.bool)
    progress = comfy_adapter.Progress(T)
    last = None
    for i in range(T):
        image = frames[i, ..., :3].float()
        detections = stack.detect(image, min_score=min_score)
        # A frame the detector misses may still show the face where it last was (MediaPipe tracks that way);
        # the mesh's own presence score decides whether it really does.
        detection = detections[0] if detections else last
        result = stack.landmarks(image, detection) if detection is not None else None
        if result is not None and result.presence >= MIN_PRESENCE:
            landmarks[i] = result.mesh.cpu()
            eyes[i] = openness(result.eye_contours.cpu())
            found[i] = True
            last = detection
        elif i > 0:
            landmarks[i], eyes[i] = landmarks[i - 1], eyes[i - 1]
        progress.update(1)
    if not found.any():
        raise ValueError(f"no face found in any of the {T} frames (min_score {min_score}); check the frames "
                         f"show a face, or lower min_score")
    first = int(found.nonzero()[0])
    landmarks[:first], eyes[:first] = landmarks[first], eyes[first]  # leading frames without a face
    if not found.all():
        log.warning("no face in %d of %d frames; their landmarks repeat the nearest earlier frame", int((~found).sum()), T)
    return FaceTrack(landmarks, eyes, found)
