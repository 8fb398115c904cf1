"""Rotated square regions of interest, MediaPipe style: where Face Mesh and Iris look, and the crop that feeds them.

A region is a centre (image px), a side length (image px) and an angle (radians, positive = the region's x axis
turned clockwise on screen, i.e. towards +y). `crop_region` samples it into an out_size x out_size crop and
returns the 2x3 matrix that maps crop pixel coordinates back to image pixel coordinates.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

FACE_SCALE = 1.5  # MediaPipe face_detection_front_detection_to_roi: detection box x 1.5
EYE_SCALE = 2.3  # MediaPipe iris_landmark_left_and_right: eye corner span x 2.3
# Face Mesh eye corners: (outer, inner) of the eye the iris model sees unflipped (the subject's right eye, on
# the image left), then of the flipped one (the subject's left eye)
EYE_CORNERS = ((33, 133), (263, 362))
# The Face Mesh points that Iris contour points 0..15 refine (MediaPipe's UpdateFaceLandmarks table), per eye in
# EYE_CORNERS order: points 0..8 run along the lower lid from the outer to the inner corner, 9..15 along the
# upper lid from outer to inner, corners excluded. Contour points 16..70 are the eye region and brow.
EYE_CONTOUR_MESH_INDICES = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398),
)


@dataclass(frozen=True)
class Region:
    centre: torch.Tensor  # [2] float32, image px (x, y)
    size: float  # side of the square, image px
    angle: float  # radians, clockwise on screen

    def crop_to_image(self, out_size: int) -> torch.Tensor:
        """[2, 3] float32 matrix: image_xy = M[:, :2] @ crop_xy + M[:, 2] (pixel-corner coordinates)."""
        scale = self.size / out_size
        cos, sin = math.cos(self.angle) * scale, math.sin(self.angle) * scale
        half = out_size / 2
        cx, cy = float(self.centre[0]), float(self.centre[1])
        # crop centre (half, half) maps to the region centre; crop axes are rotated by angle
        return torch.tensor([[cos, -sin, cx - cos * half + sin * half],
                             [sin, cos, cy - sin * half - cos * half]], dtype=torch.float32)


def _angle(start: torch.Tensor, end: torch.Tensor) -> float:
    """Angle that turns the +x axis onto the direction start -> end (clockwise on screen, since y points down)."""
    d = (end - start).float()
    return math.atan2(float(d[1]), float(d[0]))


def face_region(box_xyxy: torch.Tensor, keypoints: torch.Tensor) -> Region:
    """The Face Mesh input region for a detection: box centre, 1.5 x the longer box side, rotated so the eyes
    (keypoints 0 = right eye, 1 = left eye, image left to right when upright) lie level."""
    centre = (box_xyxy[:2] + box_xyxy[2:]) / 2
    size = float((box_xyxy[2:] - box_xyxy[:2]).max()) * FACE_SCALE
    return Region(centre.float(), size, _angle(keypoints[0], keypoints[1]))


def eye_region(landmarks: torch.Tensor, corners: tuple[int, int]) -> Region:
    """The Iris input region for one eye from Face Mesh landmarks [468, >=2] in image px: centred between the
    two corners, 2.3 x their distance, rotated so the corners lie level."""
    a, b = landmarks[corners[0], :2].float(), landmarks[corners[1], :2].float()
    start, end = (a, b) if a[0] <= b[0] else (b, a)  # level means left corner to right corner
    return Region((a + b) / 2, float(torch.linalg.norm(b - a)) * EYE_SCALE, _angle(start, end))


def crop_region(image: torch.Tensor, region: Region, out_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample `region` of image [H, W, C] into [out_size, out_size, C] (bilinear, zeros outside the image).

    Returns (crop, matrix [2, 3] crop px -> image px).
    """
    H, W = image.shape[:2]
    matrix = region.crop_to_image(out_size).to(image.device)
    # pixel centres of the crop, mapped into the image, then to grid_sample's [-1, 1] (align_corners=False)
    coords = torch.arange(out_size, device=image.device, dtype=torch.float32) + 0.5
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    crop_xy = torch.stack([x, y, torch.ones_like(x)], dim=-1)  # [S, S, 3]
    image_xy = crop_xy @ matrix.T  # [S, S, 2]
    grid = image_xy / torch.tensor([W, H], device=image.device, dtype=torch.float32) * 2 - 1
    source = image.float().permute(2, 0, 1)[None]  # [1, C, H, W]
    crop = F.grid_sample(source, grid[None], mode="bilinear", padding_mode="zeros", align_corners=False)
    return crop[0].permute(1, 2, 0), matrix


def to_image(points: torch.Tensor, matrix: torch.Tensor, out_size: int, region_size: float) -> torch.Tensor:
    """Crop-pixel points [..., 3] -> image pixels; z scales like x (MediaPipe's z has the crop's pixel scale)."""
    xy = points[..., :2] @ matrix[:, :2].T.to(points) + matrix[:, 2].to(points)
    z = points[..., 2:] * (region_size / out_size)
    return torch.cat([xy, z], dim=-1)
