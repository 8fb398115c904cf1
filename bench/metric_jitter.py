"""Jitter (a bench-only meter): frame-to-frame acceleration of landmarks that should move smoothly (nose bridge,
eye corners, contour).

Rigid head motion is smooth, so its second difference is small; tracker or renderer noise is not. Reported as
the mean acceleration magnitude per frame, in units of the face height, times 1000 (milli-face-heights).
"""
import numpy as np

# MediaPipe 468-mesh points that only move with the head: nose bridge, inner and outer eye corners, face contour.
STABLE_POINTS = (168, 6, 197, 195, 33, 133, 362, 263, 234, 454, 127, 356, 93, 323)
FOREHEAD_TOP, CHIN = 10, 152


def landmark_jitter(landmarks: np.ndarray, points=STABLE_POINTS) -> float:
    """Mean |second difference| of `points` over [T, N, 2+] landmarks, in milli-face-heights per frame^2."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape[0] < 3:
        raise ValueError(f"jitter needs at least 3 frames, got {landmarks.shape[0]}")
    tracked = landmarks[:, list(points), :2]
    acceleration = tracked[2:] - 2 * tracked[1:-1] + tracked[:-2]  # [T-2, P, 2]
    height = np.median(np.linalg.norm(landmarks[:, CHIN, :2] - landmarks[:, FOREHEAD_TOP, :2], axis=-1))
    return float(np.linalg.norm(acceleration, axis=-1).mean() / max(height, 1e-6) * 1000.0)
