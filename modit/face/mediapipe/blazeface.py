"""BlazeFace face detectors (MediaPipe short-range 128x128 and full-range 192x192), SSD anchors, box decoding
and weighted non-maximum suppression, following MediaPipe's face_detection_{short,full}_range graphs.

Raw outputs per anchor A: scores [B, A] (logits) and regressors [B, A, 16] = box centre x, y, width, height,
then 6 keypoints (x, y), all in input pixels relative to the anchor centre. Decoded coordinates are
normalised to the model input (0..1). Inputs are RGB scaled to [-1, 1].
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import TFConv2d, depthwise, pointwise, residual

NUM_KEYPOINTS = 6  # right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion


@dataclass(frozen=True)
class DetectorConfig:
    """Anchor layout and decoding constants of one BlazeFace variant (MediaPipe's SsdAnchorsCalculator options)."""

    input_size: int
    strides: tuple[int, ...]  # one entry per SSD layer; layers with equal strides share a feature map
    anchors_per_cell: tuple[int, ...]  # per distinct feature map, in strides order
    min_suppression_iou: float = 0.3
    score_clip: float = 100.0  # logits are clipped to +-score_clip before the sigmoid


SHORT_RANGE = DetectorConfig(input_size=128, strides=(8, 16, 16, 16), anchors_per_cell=(2, 6))
FULL_RANGE = DetectorConfig(input_size=192, strides=(4,), anchors_per_cell=(1,))


def generate_anchors(config: DetectorConfig) -> torch.Tensor:
    """Anchor centres [A, 2] (x, y) in 0..1, in the order the network emits them: per feature map, row-major
    cells, `anchors_per_cell` copies per cell (fixed anchor size 1, so only centres matter)."""
    maps = []
    for stride in dict.fromkeys(config.strides):  # distinct strides in order
        maps.append(config.input_size // stride)
    centres = []
    for cells, repeats in zip(maps, config.anchors_per_cell):
        coords = (torch.arange(cells, dtype=torch.float32) + 0.5) / cells
        y, x = torch.meshgrid(coords, coords, indexing="ij")
        grid = torch.stack([x, y], dim=-1).reshape(-1, 1, 2).expand(-1, repeats, 2)
        centres.append(grid.reshape(-1, 2))
    return torch.cat(centres)  # [A, 2]

# ----------------------------------------------------------------------------------------- networks


class BlazeBlock(nn.Module):
    """depthwise 3x3 (stride s) -> pointwise; residual with max-pooled, channel-padded skip; ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.depthwise = depthwise(in_channels, stride)
        self.pointwise = pointwise(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(residual(x, self.pointwise(self.depthwise(x)), self.stride))


class BlazeBottleneck(nn.Module):
    """Full-range block: depthwise (stride s) -> pointwise down -> ReLU -> depthwise -> pointwise up; residual; ReLU."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.depthwise_a = depthwise(in_channels, stride)
        self.pointwise_a = pointwise(in_channels, mid_channels)
        self.depthwise_b = depthwise(mid_channels)
        self.pointwise_b = pointwise(mid_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.pointwise_a(self.depthwise_a(x)))
        y = self.pointwise_b(self.depthwise_b(y))
        return F.relu(residual(x, y, self.stride))


# (in, out, stride) of the 16 short-range blocks: 64x64 -> 32x32 -> 16x16 -> 8x8
_SHORT_BLOCKS = [(24, 24, 1), (24, 28, 1), (28, 32, 2), (32, 36, 1), (36, 42, 1), (42, 48, 2), (48, 56, 1),
                 (56, 64, 1), (64, 72, 1), (72, 80, 1), (80, 88, 1), (88, 96, 2), (96, 96, 1), (96, 96, 1),
                 (96, 96, 1), (96, 96, 1)]
_SHORT_TAP = 10  # the 16x16x88 feature map after this block feeds the stride-8 heads


class BlazeFaceShort(nn.Module):
    """Short-range BlazeFace: [B, 3, 128, 128] in [-1, 1] -> (scores [B, 896] logits, regressors [B, 896, 16])."""

    config = SHORT_RANGE

    def __init__(self):
        super().__init__()
        self.stem = TFConv2d(3, 24, 5, stride=2)
        self.blocks = nn.ModuleList(BlazeBlock(*spec) for spec in _SHORT_BLOCKS)
        self.classifier_16 = pointwise(88, 2)  # 2 anchors per cell on the 16x16 map
        self.regressor_16 = pointwise(88, 2 * 16)
        self.classifier_8 = pointwise(96, 6)  # 6 anchors per cell on the 8x8 map
        self.regressor_8 = pointwise(96, 6 * 16)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B = x.shape[0]
        x = F.relu(self.stem(x))  # [B, 24, 64, 64]
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == _SHORT_TAP:
                tap16 = x  # [B, 88, 16, 16]
        scores = torch.cat([_flatten(self.classifier_16(tap16), B, 1), _flatten(self.classifier_8(x), B, 1)], 1)
        boxes = torch.cat([_flatten(self.regressor_16(tap16), B, 16), _flatten(self.regressor_8(x), B, 16)], 1)
        return scores[..., 0], boxes  # [B, 896], [B, 896, 16]


# (in, mid, out, stride) of the 15 full-range backbone blocks: 96 -> 48 -> 24 -> 12 -> 6
_FULL_BLOCKS = [(32, 8, 32, 1), (32, 8, 32, 1), (32, 12, 48, 2), (48, 12, 48, 1), (48, 16, 64, 1),
                (64, 24, 96, 2), (96, 32, 128, 1), (128, 32, 128, 1), (128, 36, 144, 2), (144, 48, 192, 1),
                (192, 64, 256, 1), (256, 96, 384, 2), (384, 96, 384, 1), (384, 96, 384, 1), (384, 96, 384, 1)]
_FULL_TAPS = (4, 7, 10)  # 48x48x64, 24x24x128, 12x12x256 feature maps used by the top-down path
# top-down levels (12x12, 24x24, 48x48): (top channels in, lateral channels in, width, mid width, blocks)
_FULL_LEVELS = [(384, 256, 96, 48, 2), (96, 128, 64, 32, 2), (64, 64, 48, 24, 1)]


class TopDownLevel(nn.Module):
    """One feature-pyramid step: ReLU(1x1(coarse)) upsampled 2x (bilinear, half-pixel) plus ReLU(1x1(lateral)),
    then bottleneck blocks."""

    def __init__(self, top_channels: int, lateral_channels: int, width: int, mid: int, num_blocks: int):
        super().__init__()
        self.top = pointwise(top_channels, width)
        self.lateral = pointwise(lateral_channels, width)
        self.blocks = nn.ModuleList(BlazeBottleneck(width, mid, width) for _ in range(num_blocks))

    def forward(self, coarse: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        top = F.interpolate(F.relu(self.top(coarse)), scale_factor=2, mode="bilinear", align_corners=False)
        x = F.relu(self.lateral(lateral)) + top
        for block in self.blocks:
            x = block(x)
        return x


class BlazeFaceFull(nn.Module):
    """Full-range BlazeFace: [B, 3, 192, 192] in [-1, 1] -> (scores [B, 2304] logits, regressors [B, 2304, 16])."""

    config = FULL_RANGE

    def __init__(self):
        super().__init__()
        self.stem = TFConv2d(3, 32, 3, stride=2)
        self.blocks = nn.ModuleList(BlazeBottleneck(*spec) for spec in _FULL_BLOCKS)
        self.levels = nn.ModuleList(TopDownLevel(*spec) for spec in _FULL_LEVELS)
        self.classifier = pointwise(48, 1)
        self.regressor = pointwise(48, 16)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B = x.shape[0]
        x = F.relu(self.stem(x))  # [B, 32, 96, 96]
        taps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in _FULL_TAPS:
                taps.append(x)
        for level, lateral in zip(self.levels, reversed(taps)):
            x = level(x, lateral)  # 12x12x96 -> 24x24x64 -> 48x48x48
        return _flatten(self.classifier(x), B, 1)[..., 0], _flatten(self.regressor(x), B, 16)


def _flatten(x: torch.Tensor, B: int, per_anchor: int) -> torch.Tensor:
    """[B, anchors_per_cell * per_anchor, H, W] -> [B, H * W * anchors_per_cell, per_anchor] (TFLite's NHWC order)."""
    return x.permute(0, 2, 3, 1).reshape(B, -1, per_anchor)

# ------------------------------------------------------------------------------------------ decoding


def decode(scores: torch.Tensor, regressors: torch.Tensor, anchors: torch.Tensor,
           config: DetectorConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw outputs of one image -> (probabilities [A], boxes [A, 8, 2]: xmin,ymin / xmax,ymax / 6 keypoints).

    scores: [A] logits; regressors: [A, 16]; anchors: [A, 2]. Coordinates are normalised to the model input.
    """
    size = float(config.input_size)
    probabilities = torch.sigmoid(scores.clamp(-config.score_clip, config.score_clip))
    points = regressors.reshape(-1, 8, 2) / size  # [A, 8, 2]
    centre = points[:, 0] + anchors
    half = points[:, 1] / 2
    keypoints = points[:, 2:] + anchors[:, None]  # [A, 6, 2]
    corners = torch.stack([centre - half, centre + half], dim=1)  # [A, 2, 2]
    return probabilities, torch.cat([corners, keypoints], dim=1)


def box_iou(box: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """IoU of one box [4] (xmin, ymin, xmax, ymax) with boxes [N, 4]."""
    low = torch.maximum(box[:2], boxes[:, :2])
    high = torch.minimum(box[2:], boxes[:, 2:])
    inter = (high - low).clamp(min=0).prod(dim=1)
    area = (box[2:] - box[:2]).clamp(min=0).prod()
    areas = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0).prod(dim=1)
    union = area + areas - inter
    return torch.where(union > 0, inter / union, torch.zeros_like(union))


def weighted_nms(probabilities: torch.Tensor, boxes: torch.Tensor, min_score: float,
                 min_suppression_iou: float) -> list[tuple[torch.Tensor, float]]:
    """MediaPipe's WEIGHTED non-max suppression: the best remaining candidate absorbs every candidate whose IoU
    with it exceeds the threshold; the merged box and keypoints are the score-weighted mean of the group, the
    score is the best one's. Returns [(points [8, 2], score)] in descending score order."""
    keep = probabilities >= min_score
    probabilities, boxes = probabilities[keep], boxes[keep]
    order = torch.argsort(probabilities, descending=True, stable=True)
    probabilities, boxes = probabilities[order], boxes[order]
    results = []
    while probabilities.numel() > 0:
        iou = box_iou(boxes[0, :2].reshape(4), boxes[:, :2].reshape(-1, 4))
        group = iou > min_suppression_iou
        group[0] = True
        weights = probabilities[group]
        merged = (boxes[group] * weights[:, None, None]).sum(0) / weights.sum()
        results.append((merged, float(probabilities[0])))
        probabilities, boxes = probabilities[~group], boxes[~group]
    return results
