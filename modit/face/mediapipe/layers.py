"""TFLite-exact building blocks for the MediaPipe face networks: 'SAME' padding, channel-padded residuals.

TFLite 'SAME' pads a stride-s, size-k convolution with total = max((ceil(n/s) - 1) * s + k - n, 0) pixels per
axis, total // 2 before and the rest after. For a 3x3 stride-2 convolution on an even size that is 0 before and
1 after, which PyTorch's symmetric `padding=` cannot express, so every convolution here pads explicitly.
All tensors are NCHW; the converter (scripts/convert_mediapipe.py) moves TFLite's OHWI / 1HWO kernels into
PyTorch's OIHW layout.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding that TFLite 'SAME' applies along one axis of length `size`."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class TFConv2d(nn.Conv2d):
    """nn.Conv2d with TFLite padding: "same" (possibly asymmetric) or "valid"; depthwise when groups == channels."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: str = "same", groups: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, groups=groups)
        if padding not in ("same", "valid"):
            raise ValueError(f"TFConv2d padding: expected 'same' or 'valid', got {padding!r}")
        self.tf_padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padding = (0, 0)
        if self.tf_padding == "same":
            top, bottom = same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
            left, right = same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
            if (top, left) == (bottom, right):
                padding = (top, left)  # symmetric: let the convolution pad, saving a copy
            else:
                x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


def depthwise(channels: int, stride: int = 1) -> TFConv2d:
    """3x3 depthwise convolution, 'SAME' padded (every MediaPipe depthwise layer is this)."""
    return TFConv2d(channels, channels, 3, stride=stride, groups=channels)


def pointwise(in_channels: int, out_channels: int) -> TFConv2d:
    return TFConv2d(in_channels, out_channels, 1)


def residual(skip: torch.Tensor, branch: torch.Tensor, stride: int) -> torch.Tensor:
    """skip + branch, where the skip path is 2x2 max-pooled for a stride-2 block and zero-padded in channels
    (BlazeFace's "channel_padding": the new channels are appended after the old ones)."""
    if stride == 2:
        skip = F.max_pool2d(skip, 2, 2)  # even sizes only: TFLite SAME and VALID agree there
    extra = branch.shape[1] - skip.shape[1]
    if extra > 0:
        skip = F.pad(skip, (0, 0, 0, 0, 0, extra))
    return skip + branch
