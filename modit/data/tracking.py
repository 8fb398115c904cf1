"""The embedded face stack run frame to frame on a video (paper §3.1 analysis, applied to every frame).

Per frame: BlazeFace counts the faces (and gives the detection score of the tracked one); the face mesh runs on
an ROI taken from the PREVIOUS frame's mesh (MediaPipe's own tracking scheme: one mesh pass per frame instead of
detection + two passes), falling back to detection when there is no previous mesh, after a reset (a shot cut) or
when the mesh stops seeing a face. Iris gives the eye contours. The mesh is then read exactly as
modit.face.analysis.analyse_portrait reads a portrait, so a video frame and a source photo land in the same
embedded-v1 coefficients:
    s, R, t   = weighted Procrustes of the closed-mouth template onto the mesh (expression regions weigh little)
    canonical = R^T (mesh - t) / s                      (pose removed, outer eye corners 1 unit apart)
    beta      = expression.fit(canonical, template)     (the 12 coefficients the renderer drives)
Image-pixel fits are used directly: the fit is similarity-invariant, so this equals analysing the level crop.
"""
import functools
import logging
from dataclasses import dataclass

import numpy as np
import torch

from ..face import eyes, expression, geometry
from ..face import landmarks as lm
from ..face.alignment import roi_from_detection, roi_from_landmarks, run_iris, run_mesh

log = logging.getLogger(__name__)

MIN_SCORE = 0.5  # BlazeFace score a face must reach to count (and to be tracked)
MIN_PRESENCE = 0.5  # face-mesh presence below which the tracked ROI holds no face
OTHER_FACE_AREA = 0.1  # a second detection counts as another face when its box is >= this share of the largest
CROP_SCALE = 1.8  # side of the face crop around the mesh, as analyse_portrait's margin 0.4 (1 + 2 * 0.4)
DETECT_EVERY = 5  # while tracking, BlazeFace re-counts the faces every this many frames (a quarter of the cost)


@dataclass
class FrameMeasure:
    """What the face stack read on one frame. `face` False means no usable mesh (the other fields are zeros)."""

    face: bool
    faces: int  # detections >= MIN_SCORE (of a meaningful size)
    score: float  # detection score of the tracked face (0 when no detection overlaps it)
    presence: float  # face-mesh presence
    points: np.ndarray  # [468, 3] image px
    canonical: np.ndarray  # [468, 3] pose-free mesh (canonical units)
    expression: np.ndarray  # [K] embedded-v1 coefficients
    rotation: np.ndarray  # [3] yaw, pitch, roll (rad; roll on the image)
    centre: np.ndarray  # [2] image px of the fitted head's origin (the template centroid; the jaw does not move it)
    scale: float  # image px per canonical unit (fitted on the rigid regions; the jaw does not change it)
    side: float  # face crop side in image px (analyse_portrait's crop)
    openness: np.ndarray  # [2] eye openness (subject's left, right), ~1 open
    inter_ocular: float  # outer eye corner distance, image px
    mouth_open: float  # inner-lip gap / inter-ocular distance (the bench's mouth opening)


@functools.lru_cache(maxsize=1)
def _fit_terms():
    template = expression.neutral_template().double()
    B = expression.basis()
    weights = (1.0 / (1.0 + (B.norm(dim=-1).max(0).values / 0.02) ** 2)).double()
    return template, B, weights


def read_mesh(points: torch.Tensor) -> dict:
    """Pose, canonical mesh and embedded-v1 expression of one mesh [468, 3] (any pixel frame)."""
    template, B, weights = _fit_terms()
    s, R, t = geometry.procrustes(template, points.double(), weights)
    canonical = geometry.unpose(points.double(), s, R, t)
    beta = expression.fit(canonical, template.float(), B)
    yaw, pitch, roll = geometry.euler_angles(R)
    return {"canonical": canonical.float(), "expression": beta, "rotation": torch.stack([yaw, pitch, roll]).float(),
            "origin": t[:2].float(), "scale": float(s)}


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap over the outer eye corner distance, in the image plane."""
    gap = np.linalg.norm(points[lm.LOWER_LIP_MID_INNER, :2] - points[lm.UPPER_LIP_MID_INNER, :2])
    return float(gap / max(_inter_ocular(points), 1e-6))


def _inter_ocular(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[lm.RIGHT_EYE_CORNERS[0], :2] - points[lm.LEFT_EYE_CORNERS[0], :2]))


def _contains(box, point) -> bool:
    x0, y0, x1, y1 = (float(v) for v in box)
    return x0 <= point[0] <= x1 and y0 <= point[1] <= y1


class FaceTracker:
    """Follows one face through consecutive frames; call reset() at a shot cut."""

    def __init__(self, stack=None, min_score: float = MIN_SCORE, detector: str = "auto"):
        if stack is None:
            from ..face.analysis import default_stack

            stack = default_stack()
        self.stack = stack
        self.min_score = min_score
        self.detector = detector
        self.previous = None  # [468, 3] image px of the last frame with a face
        self.detections = []  # the latest BlazeFace result, reused between counts while tracking
        self.since_detection = DETECT_EVERY

    def reset(self) -> None:
        self.previous = None
        self.since_detection = DETECT_EVERY

    def _detect(self, image: torch.Tensor) -> list:
        self.detections = self.stack.detect(image, min_score=self.min_score, model=self.detector)
        self.since_detection = 0
        return self.detections

    def _empty(self, faces: int, score: float = 0.0, presence: float = 0.0) -> FrameMeasure:
        zeros = np.zeros
        K = expression.K
        return FrameMeasure(False, faces, score, presence, zeros((468, 3)), zeros((468, 3)), zeros(K), zeros(3),
                            zeros(2), 0.0, 0.0, zeros(2), 0.0, 0.0)

    @torch.no_grad()
    def measure(self, image: torch.Tensor) -> FrameMeasure:
        """Read one frame [H, W, 3] float 0..1."""
        # Detection runs on the first frame, after a reset or a lost face, and every DETECT_EVERY frames.
        if self.previous is None or self.since_detection + 1 >= DETECT_EVERY:
            detections = self._detect(image)
        else:
            detections = self.detections
            self.since_detection += 1
        points = presence = None
        if self.previous is not None:  # track: the ROI of the previous mesh
            points, presence = run_mesh(self.stack, image, roi_from_landmarks(self.previous))
        if points is None or presence < MIN_PRESENCE:
            if self.since_detection:  # the cached detections are stale: the face moved or left
                detections = self._detect(image)
            if not detections:
                self.previous = None
                return self._empty(0, presence=presence or 0.0)
            d = detections[0]
            points, presence = run_mesh(self.stack, image, roi_from_detection(d.box_xyxy, d.keypoints))
            points, presence = run_mesh(self.stack, image, roi_from_landmarks(points))
        largest = detections[0].area if detections else 0.0
        faces = sum(1 for d in detections if d.area >= OTHER_FACE_AREA * largest)
        if presence < MIN_PRESENCE:
            self.previous = None
            return self._empty(faces, presence=presence)
        self.previous = points
        centre = points[:, :2].double().mean(0).numpy()
        score = max((float(d.score) for d in detections if _contains(d.box_xyxy, centre)), default=0.0)
        contours, _ = run_iris(self.stack, image, points)  # (subject's right, subject's left)
        read = read_mesh(points)
        array = points.double().numpy()
        return FrameMeasure(
            face=True, faces=faces, score=score, presence=float(presence), points=array,
            canonical=read["canonical"].numpy(), expression=read["expression"].double().numpy(),
            rotation=read["rotation"].double().numpy(), centre=read["origin"].double().numpy(), scale=read["scale"],
            side=roi_from_landmarks(points, scale=CROP_SCALE).side,
            openness=eyes.openness(contours[[1, 0]]).double().numpy(), inter_ocular=_inter_ocular(array),
            mouth_open=mouth_opening(array))
