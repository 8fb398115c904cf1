"""MediaPipe Face Mesh (face_landmark.tflite): a 192x192 face crop -> 468 3D landmarks + face presence.

Input: [B, 3, 192, 192] RGB in [0, 1]. Output: landmarks [B, 468, 3] in crop pixels (x right, y down, z with
the scale of x, larger = farther) and the presence logit [B] (MediaPipe thresholds sigmoid(logit) at 0.5).
"""
import torch
from torch import nn

from .layers import TFConv2d, depthwise, pointwise, residual

NUM_LANDMARKS = 468


class PReLUBlock(nn.Module):
    """depthwise 3x3 (stride s) -> pointwise; residual with max-pooled, channel-padded skip; PReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.depthwise = depthwise(in_channels, stride)
        self.pointwise = pointwise(in_channels, out_channels)
        self.activation = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(residual(x, self.pointwise(self.depthwise(x)), self.stride))


class ConvPReLU(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1):
        super().__init__(TFConv2d(in_channels, out_channels, kernel, stride), nn.PReLU(out_channels))


# (in, out, stride) of the shared trunk: 96x96 -> 48 -> 24 -> 12 -> 6
_TRUNK = [(16, 16, 1), (16, 16, 1), (16, 32, 2), (32, 32, 1), (32, 32, 1), (32, 64, 2), (64, 64, 1), (64, 64, 1),
          (64, 128, 2), (128, 128, 1), (128, 128, 1), (128, 128, 2), (128, 128, 1), (128, 128, 1)]


class FaceMesh(nn.Module):
    """[B, 3, 192, 192] in [0, 1] -> (landmarks [B, 468, 3] crop px, presence logits [B])."""

    input_size = 192

    def __init__(self):
        super().__init__()
        self.stem = ConvPReLU(3, 16, 3, stride=2)
        self.trunk = nn.Sequential(*(PReLUBlock(*spec) for spec in _TRUNK))
        # 6x6x128 -> 3x3 -> 1x1x1404
        self.mesh_blocks = nn.Sequential(PReLUBlock(128, 128, 2), PReLUBlock(128, 128), PReLUBlock(128, 128),
                                         ConvPReLU(128, 32), PReLUBlock(32, 32))
        self.mesh_head = TFConv2d(32, NUM_LANDMARKS * 3, 3, padding="valid")
        # 6x6x128 -> 3x3 -> 1x1x1
        self.presence_blocks = nn.Sequential(PReLUBlock(128, 128, 2), ConvPReLU(128, 32), PReLUBlock(32, 32))
        self.presence_head = TFConv2d(32, 1, 3, padding="valid")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B = x.shape[0]
        x = self.trunk(self.stem(x))  # [B, 128, 6, 6]
        landmarks = self.mesh_head(self.mesh_blocks(x)).reshape(B, NUM_LANDMARKS, 3)
        presence = self.presence_head(self.presence_blocks(x)).reshape(B)
        return landmarks, presence
