"""Small plots drawn with OpenCV for the Lip-Sync Score node: mouth vs speech curves and correlation per lag."""
import cv2
import numpy as np

from .lip_sync import SyncResult


def _polyline(canvas, values, box, colour, symmetric=False):
    x0, y0, w, h = box
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return
    low, high = (-np.abs(values).max(), np.abs(values).max()) if symmetric else (values.min(), values.max())
    span = max(high - low, 1e-9)
    xs = x0 + np.arange(values.size) / (values.size - 1) * w
    ys = y0 + h - (values - low) / span * h
    cv2.polylines(canvas, [np.stack([xs, ys], 1).round().astype(np.int32)], False, colour, 2, cv2.LINE_AA)


def sync_plot(mouth: np.ndarray, envelope: np.ndarray, result: SyncResult, width=768, height=384) -> np.ndarray:
    """[height, width, 3] float32 0..1: top, mouth opening (orange) over speech loudness (blue); bottom, Pearson r
    per lag with the best lag marked."""
    canvas = np.full((height, width, 3), 24, np.uint8)
    top = (10, 28, width - 20, height // 2 - 40)
    _polyline(canvas, envelope, top, (90, 170, 255))
    _polyline(canvas, mouth, top, (255, 130, 80))
    cv2.putText(canvas, "mouth opening (orange) vs speech loudness (blue)", (10, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (220, 220, 220), 1, cv2.LINE_AA)
    bottom = (10, height // 2 + 24, width - 20, height // 2 - 48)
    zero_y = bottom[1] + bottom[3] // 2
    cv2.line(canvas, (bottom[0], zero_y), (bottom[0] + bottom[2], zero_y), (70, 70, 70), 1)
    _polyline(canvas, result.correlations, bottom, (150, 230, 120), symmetric=True)
    best = list(result.lags).index(result.offset)
    x = int(bottom[0] + best / max(len(result.lags) - 1, 1) * bottom[2])
    cv2.line(canvas, (x, bottom[1]), (x, bottom[1] + bottom[3]), (255, 255, 255), 1)
    text = f"offset {result.offset:+d} frames (video {'late' if result.offset > 0 else 'early' if result.offset < 0 else 'in sync'}), " \
           f"r {result.correlation:.2f}, confidence {result.confidence:.2f}"
    cv2.putText(canvas, text, (10, height // 2 + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (220, 220, 220), 1, cv2.LINE_AA)
    return canvas.astype(np.float32) / 255.0
