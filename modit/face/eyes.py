"""Eye openness of the source portrait (paper §3.4.4 needs the source's eye state for blink mapping).

openness = (lid_ratio - CLOSED_RATIO) / (OPEN_RATIO - CLOSED_RATIO), clamped to [0, 1.5], where lid_ratio is the
mean vertical gap between the upper and lower eyelid over the middle three lid point pairs of the iris model's
71-point eye contour, divided by the eye width (outer to inner corner), both measured in the eye's own
roll-free frame.

Calibration (outer/inner corner = contour points 0 / 8; lower lid 1..7 and upper lid 9..15, outer -> inner), measured
with the embedded FaceStack:
- OPEN_RATIO 0.36: a relaxed open eye looking at the camera. The astronaut portrait (skimage.data.astronaut) reads
  0.361 / 0.353 on its two eyes; adult eye aspect ratios are typically 0.3-0.45, so a relaxed eye lands near 1 and
  a wide-open one a little above (clamped at 1.5).
- CLOSED_RATIO 0.10: eyes painted shut with skin in tests/face/test_analysis.py read 0.13-0.17 (openness 0.11-0.26):
  the model keeps some lid thickness and still half-sees the painted eye. A real closure (lashes meeting, no iris
  visible) should read at or below that, so the zero point sits a little under the painted value. No photograph
  of a really closed eye was available here to check it: treat values under ~0.3 as "closed".
"""
import torch

OPEN_RATIO = 0.36
CLOSED_RATIO = 0.10
UPPER_LID_PAIRS = (10, 11, 12, 13, 14)  # upper lid points, outer -> inner, paired with LOWER_LID_PAIRS
LOWER_LID_PAIRS = (2, 3, 4, 5, 6)
MIDDLE = slice(1, 4)  # the three central pairs, least affected by the corners


def lid_ratio(contour: torch.Tensor) -> torch.Tensor:
    """[...] vertical lid gap / eye width from iris-model eye contours [..., 71, 2+] (any consistent px units)."""
    outer, inner = contour[..., 0, :2], contour[..., 8, :2]
    axis = inner - outer
    width = axis.norm(dim=-1).clamp(min=1e-6)
    axis = axis / width[..., None]
    normal = torch.stack([-axis[..., 1], axis[..., 0]], -1)  # perpendicular to the corner line
    upper = contour[..., list(UPPER_LID_PAIRS), :2][..., MIDDLE, :]
    lower = contour[..., list(LOWER_LID_PAIRS), :2][..., MIDDLE, :]
    gap = ((lower - upper) * normal[..., None, :]).sum(-1).abs().mean(-1)
    return gap / width


def openness(contour: torch.Tensor) -> torch.Tensor:
    """[...] eye openness (~1 open, ~0 closed) from eye contours [..., 71, 2+]."""
    return ((lid_ratio(contour) - CLOSED_RATIO) / (OPEN_RATIO - CLOSED_RATIO)).clamp(0.0, 1.5)
