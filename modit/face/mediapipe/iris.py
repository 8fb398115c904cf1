"""MediaPipe Iris landmarks (iris_landmark.tflite): a 64x64 eye crop -> 71 eye-region points + 5 iris points.

Input: [B, 3, 64, 64] RGB in [0, 1]. The network was trained on the eye that MediaPipe calls the left eye
(the one on the image's LEFT in an unmirrored photo, i.e. the subject's right eye, Face Mesh points 33/133);
MediaPipe flips the other eye's crop horizontally before the network and flips the outputs back.
Outputs in crop pixels: eye_contour [B, 71, 3] (eyelids and brow, MediaPipe order), iris [B, 5, 3]
(centre first, then four points on the iris rim).
"""
import torch
from torch import nn

from .layers import TFConv2d, depthwise, pointwise, residual

NUM_CONTOUR = 71
NUM_IRIS = 5


class IrisBlock(nn.Module):
    """Project (1x1, or 2x2 stride 2) -> PReLU -> depthwise 3x3 -> pointwise up; residual; PReLU."""

    def __init__(self, channels: int, stride: int = 1, out_channels: int | None = None):
        super().__init__()
        out_channels = out_channels or channels
        mid = out_channels // 2
        self.stride = stride
        self.project = TFConv2d(channels, mid, stride, stride=stride, padding="valid")
        self.project_activation = nn.PReLU(mid)
        self.depthwise = depthwise(mid)
        self.pointwise = pointwise(mid, out_channels)
        self.activation = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pointwise(self.depthwise(self.project_activation(self.project(x))))
        return self.activation(residual(x, y, self.stride))


class IrisLandmark(nn.Module):
    """[B, 3, 64, 64] in [0, 1] -> (eye_contour [B, 71, 3], iris [B, 5, 3]) in crop pixels."""

    input_size = 64

    def __init__(self):
        super().__init__()
        self.stem = TFConv2d(3, 64, 3, stride=2)
        self.stem_activation = nn.PReLU(64)
        # 32x32x64 -> 16x16x128 -> 8x8x128
        self.trunk = nn.Sequential(IrisBlock(64), IrisBlock(64), IrisBlock(64), IrisBlock(64),
                                   IrisBlock(64, 2, 128), IrisBlock(128), IrisBlock(128), IrisBlock(128),
                                   IrisBlock(128), IrisBlock(128, 2))
        self.contour_blocks = _branch()
        self.contour_head = TFConv2d(128, NUM_CONTOUR * 3, 2, padding="valid")
        self.iris_blocks = _branch()
        self.iris_head = TFConv2d(128, NUM_IRIS * 3, 2, padding="valid")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B = x.shape[0]
        x = self.trunk(self.stem_activation(self.stem(x)))  # [B, 128, 8, 8]
        contour = self.contour_head(self.contour_blocks(x)).reshape(B, NUM_CONTOUR, 3)
        iris = self.iris_head(self.iris_blocks(x)).reshape(B, NUM_IRIS, 3)
        return contour, iris


def _branch() -> nn.Sequential:
    """8x8 -> 4x4 -> 2x2, 128 channels throughout."""
    return nn.Sequential(IrisBlock(128), IrisBlock(128), IrisBlock(128, 2), IrisBlock(128), IrisBlock(128),
                         IrisBlock(128, 2), IrisBlock(128), IrisBlock(128))


def flip_horizontal(points: torch.Tensor, size: int) -> torch.Tensor:
    """Mirror crop-pixel x coordinates of points [..., >=2] across a crop of `size` pixels."""
    return torch.cat([size - points[..., :1], points[..., 1:]], dim=-1)
