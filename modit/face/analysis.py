"""3DMM extraction for the source portrait (paper §3.1): detection -> aligned crop -> mesh -> pose -> beta_0 -> eyes.

`analyse_portrait` returns a `modit.types.Face`; `preview` draws what it found. The networks are reached only
through `FaceStack` (modit/face/mediapipe), loaded once per device and kept at module level.
"""
import functools
import logging
import math
from dataclasses import replace

import torch

from ..types import Face
from . import components, expression, eyes, geometry
from . import landmarks as lm
from .alignment import (apply_affine, invert_affine, roi_from_detection, roi_from_landmarks, run_iris, run_mesh,
                        warp_crop)

log = logging.getLogger(__name__)

CROP_SIZE = 512  # side of Face.crop; the renderer warps at this resolution
MIN_SIDE = 32  # smaller images cannot hold a face the 128-px detector can see
MIN_PRESENCE = 0.5  # mesh "face present" probability below which the crop is not a face
UPRIGHT_PRESENCE = 0.9  # below this on the detector's box the mesh also looks at the box turned upside down
# (n, the least tile side in px): n x n tiles tried in turn while faces are missing. 5 x 5 and 8 x 8 only on large
# photos (tiles of at least 512 px): a 70 px face in a 4000 x 3000 photo scores 0.5 in a 1000 px tile and 0.85 in a
# 666 px one.
TILE_LEVELS = ((2, MIN_SIDE), (3, MIN_SIDE), (5, 512), (8, 512))
ABOUT_AS_LARGE = 0.8  # another face at least this share of the largest one's area: which one is meant is a guess
LARGE_PHOTO = 1000  # px, long side: the detectors see the whole image shrunk to 128 / 192 px, so a small face there
# is a few detector px (the tiles find faces down to about 50 px in 4000); a "no face" error there also says to crop


@functools.lru_cache(maxsize=2)
def default_stack(device: str | None = None):
    """The embedded MediaPipe stack (BlazeFace, face mesh, iris), loaded once per device."""
    try:
        from .mediapipe import FaceStack
    except ImportError as error:
        raise RuntimeError(f"modit/face/mediapipe (the embedded face stack) is missing from this install: {error}; "
                           "reinstall the pack") from error
    return FaceStack.load(device=device)


def prepare_image(image: torch.Tensor, name: str = "image") -> torch.Tensor:
    """[H, W, 3] float32 0..1 from an IMAGE [B, H, W, C] (first frame) or [H, W, C]; C 1 (gray), 2, 3 or 4 (alpha)."""
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"{name}: expected an IMAGE tensor [B, H, W, C], got {type(image).__name__}")
    if image.ndim == 4:
        if image.shape[0] == 0:
            raise ValueError(f"{name}: the IMAGE batch is empty; connect an image with at least one frame")
        image = image[0]
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"{name}: expected [B, H, W, C] with C = 1..4 channels, got shape {tuple(image.shape)}")
    H, W, C = image.shape
    if min(H, W) < MIN_SIDE:
        raise ValueError(f"{name}: {W}x{H} px is too small to find a face; use an image at least "
                         f"{MIN_SIDE} px on its short side (a face of 100 px or more works best)")
    image = image.detach().float()
    if C in (1, 2):  # gray, or gray + alpha
        image = image[..., :1].expand(H, W, 3)
    image = image[..., :3]
    if not torch.isfinite(image).all():
        raise ValueError(f"{name}: contains NaN or infinite values; check the node that produced it")
    return image.clamp(0, 1).contiguous()


def _hint_points(face_landmarks: dict, face_index: int) -> torch.Tensor | None:
    """Image-px landmarks [N, 2] of one face from core's FACE_LANDMARKS (frame 0), or None if it has none."""
    if not isinstance(face_landmarks, dict) or "frames" not in face_landmarks:
        raise ValueError("face_landmarks: expected core's FACE_LANDMARKS (a dict with 'frames'), got "
                         f"{type(face_landmarks).__name__}; connect MediaPipeFaceLandmarker's face_landmarks output")
    frames = face_landmarks["frames"]
    faces = list(frames[0]) if frames else []
    if not faces:
        return None
    faces.sort(key=lambda f: -_area(torch.as_tensor(f["bbox_xyxy"], dtype=torch.float64)))
    face = faces[0] if face_index < 0 else _by_index(faces, face_index,
                                                     lambda f: float(torch.as_tensor(f["bbox_xyxy"])[0]))
    return torch.as_tensor(face["landmarks_xy"], dtype=torch.float64)[:468, :2]


def _area(box: torch.Tensor) -> float:
    return float((box[2] - box[0]) * (box[3] - box[1]))


def _by_index(items: list, face_index: int, left_edge):
    """Face number face_index counted left to right on screen."""
    ordered = sorted(items, key=left_edge)
    if face_index >= len(ordered):
        raise ValueError(f"face_index {face_index}: only {len(ordered)} face(s) found (numbered 0.."
                         f"{len(ordered) - 1} from left to right); lower face_index or use -1 for the largest")
    return ordered[face_index]


def _shifted(detection, dx: float, dy: float):
    """The detection moved by (dx, dy) pixels (from tile to image coordinates)."""
    shift = torch.tensor([dx, dy], dtype=detection.box_xyxy.dtype, device=detection.box_xyxy.device)
    return type(detection)(detection.box_xyxy + shift.repeat(2), detection.keypoints + shift, detection.score)


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    lo, hi = torch.maximum(a[:2], b[:2]), torch.minimum(a[2:], b[2:])
    inter = float((hi - lo).clamp(min=0).prod())
    return inter / max(_area(a) + _area(b) - inter, 1e-9)


def detect_faces(stack, image: torch.Tensor, min_score: float, detector: str, wanted: int = 1) -> list:
    """Faces in the image, largest first: the whole image, then overlapping tiles while fewer than `wanted`.

    The detectors see the image shrunk to 128 / 192 px, so in a group photo each face may be too small to
    find (or only the largest is). 2x2 and 3x3 tiles overlapping by half a tile give each face 1.5-2x more
    detector pixels, and on large photos 5x5 and 8x8 ones (TILE_LEVELS) 3-4x; tiles use the full-range detector
    (made for small faces) unless detector is "short".
    A face found twice (whole image and tiles, or two tiles) is kept once, with the higher score.
    """
    found = list(stack.detect(image, min_score=min_score, model=detector))
    H, W = image.shape[:2]
    tile_model = "short" if detector == "short" else "full"
    for n, least_side in TILE_LEVELS:
        if len(found) >= wanted:
            break
        tile_h, tile_w = min(H, 2 * H // (n + 1)), min(W, 2 * W // (n + 1))  # n x n tiles, half-tile overlap
        if min(tile_h, tile_w) < least_side:
            break
        for y0 in sorted({round(i * (H - tile_h) / (n - 1)) for i in range(n)}):
            for x0 in sorted({round(i * (W - tile_w) / (n - 1)) for i in range(n)}):
                tile = image[y0:y0 + tile_h, x0:x0 + tile_w]
                for detection in stack.detect(tile, min_score=min_score, model=tile_model):
                    detection = _shifted(detection, x0, y0)
                    twin = next((i for i, f in enumerate(found) if _iou(f.box_xyxy, detection.box_xyxy) > 0.3), None)
                    if twin is None:
                        found.append(detection)
                    elif detection.score > found[twin].score:
                        found[twin] = detection
        log.info("face detection: %d face(s) after %dx%d tiles", len(found), n, n)
    return sorted(found, key=lambda d: d.area, reverse=True)


def _mesh_from(stack, image: torch.Tensor, roi):
    """Two mesh passes: the first ROI comes from a coarse box; the second from the mesh itself (tight, level eyes).
    Returns (points [468, 3] image px, presence)."""
    points, presence = run_mesh(stack, image, roi)
    if presence < UPRIGHT_PRESENCE:
        # A face upside down (a photo turned 180 degrees): the detector's keypoints take it for upright, with its eyes
        # where its mouth is, and the mesh run that way round drew a mouth on the forehead. Turned, it finds the face.
        turned_points, turned = run_mesh(stack, image, replace(roi, angle=roi.angle + math.pi))
        if turned > presence:
            points = turned_points
    return run_mesh(stack, image, roi_from_landmarks(points))


def analyse_portrait(image: torch.Tensor, face_index: int = -1, min_score: float = 0.5, margin: float = 0.4,
                     detector: str = "auto", crop_size: int = CROP_SIZE, face_landmarks: dict | None = None,
                     stack=None) -> Face:
    """Analyse the source portrait into a Face (crop, mesh, pose, beta_0, eye openness, neutral mesh).

    image: [H, W, C] or [B, H, W, C] (first frame) float 0..1, C = 1..4. face_index: -1 = the largest face, else
    the face counted left to right from 0. min_score: BlazeFace threshold. margin: crop border around the mesh,
    as a fraction of the face size on each side. detector: "short", "full" or "auto" (full when short finds
    nothing). face_landmarks: core FACE_LANDMARKS used instead of detection. stack: a FaceStack (default: the
    embedded one).
    """
    image = prepare_image(image)
    stack = stack if stack is not None else default_stack()
    score, rivals = 1.0, 0
    hint = _hint_points(face_landmarks, face_index) if face_landmarks is not None else None
    if hint is not None:
        roi = roi_from_landmarks(hint)
    else:
        # the largest face: the whole image's detections suffice; a face by number: count every face, tiles too
        detections = detect_faces(stack, image, min_score, detector, wanted=1 if face_index < 0 else 1 << 30)
        if not detections:
            best = stack.detect(image, min_score=0.0, model=detector)
            best_score = max((float(d.score) for d in best), default=0.0)
            H, W = image.shape[:2]
            crop = " (in a large photo, crop it around the face)" if max(H, W) >= LARGE_PHOTO else ""
            raise ValueError(f"source image: no face found (best score {best_score:.2f} < min_score {min_score:.2f}) "
                             f"in a {W}x{H} image; use a portrait where the face is clearly visible and at least "
                             f"~100 px wide{crop}, lower min_score, or connect face_landmarks from core's MediaPipe "
                             f"Face Landmarker")
        chosen = detections[0] if face_index < 0 else _by_index(detections, face_index,
                                                                 lambda d: float(d.box_xyxy[0]))
        # Two people side by side (an interview's split screen): "the largest" is then a few px of box.
        rivals = sum(d.area >= ABOUT_AS_LARGE * chosen.area for d in detections[1:]) if face_index < 0 else 0
        score = float(chosen.score)
        roi = roi_from_detection(chosen.box_xyxy, chosen.keypoints)

    points, presence = _mesh_from(stack, image, roi)
    if presence < MIN_PRESENCE and hint is None and face_index < 0:
        # A face small in a large photo is a few detector pixels: the whole image's largest box can then be a weak
        # false one around it (the mesh sees no face there) while the tiles find the face itself. The largest
        # detection on which the mesh does see a face is taken instead.
        for other in detect_faces(stack, image, min_score, detector, wanted=1 << 30):
            if _iou(other.box_xyxy, chosen.box_xyxy) > 0.5:
                continue
            other_points, other_presence = _mesh_from(stack, image, roi_from_detection(other.box_xyxy,
                                                                                      other.keypoints))
            if other_presence >= MIN_PRESENCE:
                log.info("face detection: the largest box (score %.2f) holds no face for the mesh; took the "
                         "next (score %.2f)", score, float(other.score))
                points, presence, score = other_points, other_presence, float(other.score)
                break
    if presence < MIN_PRESENCE:
        # The detector's box held something face-like (an animal, a mask, a pattern) the mesh does not take for a
        # human face. A higher min_score helps only where a real face sits beside it; say what else does.
        found = "face_landmarks' face" if hint is not None else f"the detected region (detection score {score:.2f})"
        raise ValueError(f"source image: the face mesh does not see a human face in {found}: presence "
                         f"{presence:.2f} < {MIN_PRESENCE}; use a clearer, more frontal photo of a person, pick "
                         f"another face with face_index, or raise min_score to skip weak detections")
    if rivals:
        log.warning("face detection: %d faces of about the same size; animating the one centred at %d %% of the "
                    "image's width. Set face_index (0, 1, ... from the left) to choose another.", rivals + 1,
                    round(100 * float(points[:, 0].mean()) / image.shape[1]))
    contours, irises = run_iris(stack, image, points)  # image px, (subject's right, subject's left)

    crop_roi = roi_from_landmarks(points, scale=1.0 + 2.0 * margin)
    crop_to_image = crop_roi.crop_to_image(crop_size)
    image_to_crop = invert_affine(crop_to_image)
    crop = warp_crop(image, crop_to_image, crop_size, padding="border")
    landmarks = apply_affine(image_to_crop, points).float()  # [468, 3] crop px
    contours = apply_affine(image_to_crop, contours).float()[[1, 0]]  # [2, 71, 3] (left, right)
    irises = apply_affine(image_to_crop, irises).float()[[1, 0]]

    # Pose: weighted similarity fit of the closed-mouth template to the mesh (expression regions weigh little).
    template = expression.neutral_template()
    B = expression.basis()
    weights = 1.0 / (1.0 + (B.norm(dim=-1).max(0).values / 0.02) ** 2)
    s, R, t = geometry.procrustes(template.double(), landmarks.double(), weights.double())
    canonical = geometry.unpose(landmarks.double(), s, R, t).float()  # [468, 3] source mesh, pose removed
    beta_0 = expression.fit(canonical, template, B)
    neutral = canonical - torch.einsum("k,knc->nc", beta_0, B)
    openness = eyes.openness(contours)
    pose = geometry.pose_vector(s, R, t)
    pose[2] = pose[2] + crop_roi.angle  # report the roll on the image; the crop itself is level (angle removed)
    log.info("face: score %.2f, yaw %.1f pitch %.1f roll %.1f deg, eyes %.2f / %.2f, jaw_open %.2f",
             score, geometry.degrees(float(pose[0])), geometry.degrees(float(pose[1])),
             geometry.degrees(float(pose[2])), float(openness[0]), float(openness[1]),
             float(beta_0[components.JAW_OPEN]))
    return Face(image=image.cpu(), crop=crop.cpu(), crop_to_image=crop_to_image, landmarks=landmarks,
                iris=irises, pose=pose, beta_0=beta_0, eye_openness=openness.float(), neutral_mesh=neutral,
                space=components.SPACE_NAME, score=score,
                extras={"pose_tz": float(t[2]), "crop_roll": crop_roi.angle, "eye_contours": contours, "mesh_presence": presence,
                        "canonical_mesh": canonical, "landmarks_image": points.float(),
                        "lid_ratio": eyes.lid_ratio(contours)})


def image_landmarks(face: Face) -> torch.Tensor:
    """face.landmarks mapped back to source-image pixels [468, 3]."""
    return apply_affine(face.crop_to_image, face.landmarks)


__all__ = ["analyse_portrait", "prepare_image", "default_stack", "image_landmarks", "preview"]


def preview(face: Face) -> torch.Tensor:
    """[S, S, 3] float32 0..1: the face crop with mesh dots, irises, pose axes and eye openness / jaw text."""
    import cv2
    import numpy as np

    canvas = np.ascontiguousarray((face.crop.numpy() * 255).astype(np.uint8))
    S = face.crop_size
    k = max(1, S // 256)
    for x, y, _ in face.landmarks.numpy():
        cv2.circle(canvas, (int(round(x)), int(round(y))), k, (0, 255, 0), -1, cv2.LINE_AA)
    for iris in face.iris.numpy():
        radius = float(np.linalg.norm(iris[1:, :2] - iris[0, :2], axis=1).mean())
        cv2.circle(canvas, (int(round(iris[0, 0])), int(round(iris[0, 1]))), max(1, int(round(radius))),
                   (0, 200, 255), k, cv2.LINE_AA)
    yaw, pitch, roll, tx, ty, scale = face.pose.tolist()
    R = geometry.rotation_matrix(*torch.tensor([yaw, pitch, roll - face.extras.get("crop_roll", 0.0)],
                                               dtype=torch.float64))
    origin = face.landmarks[lm.NOSE_TIP, :2].numpy()
    for axis, colour in zip(range(3), ((255, 60, 60), (60, 255, 60), (60, 120, 255))):
        end = origin + 0.6 * scale * R[:2, axis].numpy()  # canonical x (subject's left), y (down), z (into head)
        cv2.arrowedLine(canvas, tuple(int(v) for v in origin), tuple(int(v) for v in end), colour, 2 * k,
                        cv2.LINE_AA, tipLength=0.15)
    lines = [f"yaw {geometry.degrees(yaw):+.1f}  pitch {geometry.degrees(pitch):+.1f}  roll {geometry.degrees(roll):+.1f}",
             f"eyes open L {float(face.eye_openness[0]):.2f}  R {float(face.eye_openness[1]):.2f}",
             f"jaw_open {float(face.beta_0[components.JAW_OPEN]):+.2f}  score {face.score:.2f}"]
    for i, text in enumerate(lines):
        y = int((18 + 22 * i) * S / 512)
        cv2.putText(canvas, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * S / 512, (0, 0, 0), 3 * k, cv2.LINE_AA)
        cv2.putText(canvas, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * S / 512, (255, 255, 255), k, cv2.LINE_AA)
    return torch.from_numpy(canvas).float() / 255.0
