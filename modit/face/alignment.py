"""Face alignment for paper §3.1: choose the face, cut roll-free square crops, run the mesh twice, cut eye crops.

Coordinates: image and crop pixels have x right, y down and the origin at the top-left pixel CORNER, so pixel
(i, j) covers [j, j+1) x [i, i+1) and its centre is (j + 0.5, i + 0.5). A crop is described by its 2x3 affine
`crop_to_image` (image_xy = A @ [crop_x, crop_y, 1]); a roll-free crop has A = [side/S * R(angle) | corner].

MediaPipe's own pipeline is followed in spirit: detection -> ROI scaled 1.5x about the box, rotated so the eyes
are level -> 192-px mesh -> a second ROI from the mesh itself (tighter, better roll) -> mesh again; eye ROIs of
2.3x the eye-corner distance for the 64-px iris model, the subject's left eye mirrored (the iris model was
trained on right eyes as they appear on the viewer's left).
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import landmarks as lm

MESH_SIZE = 192  # input side of the face mesh network
IRIS_SIZE = 64  # input side of the iris network
MESH_ROI_SCALE = 1.5  # ROI side / face size, as in MediaPipe's face landmark graph
EYE_ROI_SCALE = 2.3  # eye ROI side / eye-corner distance, as in MediaPipe's iris graph


@dataclass(frozen=True)
class Roi:
    """A rotated square region of the image: centre (image px), side (image px), angle (rad, crop x axis vs image x)."""

    center: tuple
    side: float
    angle: float

    def crop_to_image(self, crop_size: int) -> torch.Tensor:
        """[2, 3] float64 affine from crop pixels (crop_size square) to image pixels."""
        k = self.side / crop_size
        c, s = math.cos(self.angle), math.sin(self.angle)
        linear = torch.tensor([[c * k, -s * k], [s * k, c * k]], dtype=torch.float64)
        half = torch.tensor([crop_size / 2, crop_size / 2], dtype=torch.float64)
        offset = torch.tensor(self.center, dtype=torch.float64) - linear @ half
        return torch.cat([linear, offset[:, None]], dim=1)


def invert_affine(affine: torch.Tensor) -> torch.Tensor:
    """Inverse of a [2, 3] affine, as [2, 3]."""
    linear_inv = torch.linalg.inv(affine[:, :2])
    return torch.cat([linear_inv, -(linear_inv @ affine[:, 2:])], dim=1)


def apply_affine(affine: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Map [..., 2] (or [..., 3]: z scaled by the affine's scale) points through a [2, 3] affine."""
    a = affine.to(torch.float64)
    xy = points[..., :2].to(torch.float64) @ a[:, :2].T + a[:, 2]
    if points.shape[-1] == 2:
        return xy.to(points.dtype)
    scale = torch.sqrt(torch.abs(torch.linalg.det(a[:, :2])))
    z = points[..., 2:].to(torch.float64) * scale
    return torch.cat([xy, z], dim=-1).to(points.dtype)


def warp_crop(image: torch.Tensor, crop_to_image: torch.Tensor, crop_size: int, padding: str = "zeros") -> torch.Tensor:
    """Sample a [S, S, 3] crop from image [H, W, 3] (0..1) through crop_to_image, bilinear.

    padding: "zeros" (what the MediaPipe networks expect outside the frame) or "border".
    """
    H, W = image.shape[:2]
    centres = torch.arange(crop_size, dtype=torch.float64, device=image.device) + 0.5
    v, u = torch.meshgrid(centres, centres, indexing="ij")
    grid = torch.stack([u, v], dim=-1)  # [S, S, 2] crop px
    xy = grid @ crop_to_image[:, :2].T.to(grid) + crop_to_image[:, 2].to(grid)  # [S, S, 2] image px
    norm = torch.stack([xy[..., 0] / W * 2 - 1, xy[..., 1] / H * 2 - 1], dim=-1)  # align_corners=False
    x = image.permute(2, 0, 1)[None].float()  # [1, 3, H, W]
    out = F.grid_sample(x, norm[None].to(x), mode="bilinear", padding_mode=padding, align_corners=False)
    return out[0].permute(1, 2, 0).clamp(0, 1)  # [S, S, 3]


def roll_from_eyes(right_eye: torch.Tensor, left_eye: torch.Tensor) -> float:
    """Roll of the eye line in image px (rad): the angle that makes the subject's right eye -> left eye horizontal."""
    d = (left_eye - right_eye).double()
    return float(torch.atan2(d[1], d[0]))


def roi_from_detection(box_xyxy: torch.Tensor, keypoints: torch.Tensor, scale: float = MESH_ROI_SCALE) -> Roi:
    """Mesh ROI from a BlazeFace detection: square about the box centre, side = scale * max box side, eyes level."""
    x0, y0, x1, y1 = [float(v) for v in box_xyxy]
    angle = roll_from_eyes(keypoints[0], keypoints[1])
    return Roi(((x0 + x1) / 2, (y0 + y1) / 2), scale * max(x1 - x0, y1 - y0), angle)


def roi_from_landmarks(points: torch.Tensor, scale: float = MESH_ROI_SCALE) -> Roi:
    """ROI around mesh landmarks [468, 2+] in image px: eye-corner roll, box of the points in the rolled frame."""
    points = points[:, :2].double()
    angle = roll_from_eyes(points[lm.RIGHT_EYE_CORNERS[0]], points[lm.LEFT_EYE_CORNERS[0]])
    c, s = math.cos(angle), math.sin(angle)
    rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    rolled = points @ rot  # into the frame whose x axis is the eye line
    low, high = rolled.min(0).values, rolled.max(0).values
    centre = rot @ ((low + high) / 2)
    return Roi((float(centre[0]), float(centre[1])), scale * float((high - low).max()), angle)


def eye_rois(points: torch.Tensor) -> tuple[Roi, Roi]:
    """(subject's right eye ROI, subject's left eye ROI) from mesh landmarks [468, 2+] in image px."""
    rois = []
    for outer, inner in (lm.RIGHT_EYE_CORNERS, lm.LEFT_EYE_CORNERS):
        a, b = points[outer, :2].double(), points[inner, :2].double()
        # Roll is measured from the corner on the image left to the one on the image right, for either eye.
        right_end, left_end = (a, b) if outer == lm.RIGHT_EYE_CORNERS[0] else (b, a)
        centre = (a + b) / 2
        rois.append(Roi((float(centre[0]), float(centre[1])), EYE_ROI_SCALE * float(torch.dist(a, b)),
                        roll_from_eyes(right_end, left_end)))
    return rois[0], rois[1]


def run_mesh(stack, image: torch.Tensor, roi: Roi) -> tuple[torch.Tensor, float]:
    """Mesh landmarks [468, 3] in image px (z in image px scale) and presence for one ROI."""
    affine = roi.crop_to_image(MESH_SIZE)
    crop = warp_crop(image, affine, MESH_SIZE)
    points, presence = stack.mesh(crop[None])
    return apply_affine(affine, points[0].float().cpu()), float(presence[0])


def run_iris(stack, image: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eye contours [2, 71, 3] and irises [2, 5, 3] in image px, ordered (subject's right, subject's left)."""
    rois = eye_rois(points)
    affines = [roi.crop_to_image(IRIS_SIZE) for roi in rois]
    crops = torch.stack([warp_crop(image, a, IRIS_SIZE) for a in affines])  # [2, 64, 64, 3]
    crops[1] = crops[1].flip(1)  # the subject's left eye, mirrored to look like a right eye
    contours, irises = stack.iris(crops)
    contours, irises = contours.float().cpu().clone(), irises.float().cpu().clone()
    contours[1, :, 0] = IRIS_SIZE - contours[1, :, 0]
    irises[1, :, 0] = IRIS_SIZE - irises[1, :, 0]
    contours = torch.stack([apply_affine(a, c) for a, c in zip(affines, contours)])
    irises = torch.stack([apply_affine(a, i) for a, i in zip(affines, irises)])
    return contours, irises
