"""Wav2Lip's face geometry on MoDiT's face crop (paper §3.4.5): face box, 96x96 BGR input, paste-back.

Wav2Lip sees a face box (its S3FD detector's box, padded 10 px at the bottom by default) resized to 96x96
without keeping the aspect ratio, in BGR order, with the lower half of the target zeroed. We derive the same
kind of box from the 468-point mesh of the aligned face crop (the face oval's extent), so the lip reference
lands exactly where the face is in the crop, and paste Wav2Lip's 96x96 result back into that box.

Frames here are [B, H, W, 3] RGB in 0..1 (ComfyUI IMAGE layout); Wav2Lip faces are [B, 3, 96, 96].
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .network import FACE_SIZE

# MediaPipe face mesh indices on the face oval (forehead top 10, chin 152, cheek extremes 234 / 454).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)

# Wav2Lip's --pads default (top, bottom, left, right) in pixels: the extra bottom margin keeps the chin in
# the box when the jaw drops.
DEFAULT_PADS = (0, 10, 0, 0)

BLEND_MODES = ("feathered", "box")
# feathered: only Wav2Lip's generated lower half is blended in, with a soft seam, so the upper face stays sharp.
# box: the whole box is overwritten by the resized 96x96 result (what Wav2Lip's own inference does).
_SEAM = (0.5, 0.62)  # the vertical ramp from the crop to Wav2Lip's output, as fractions of the box height
_EDGE = 0.06  # fade width at the box's sides and bottom, as a fraction of its size


@dataclass(frozen=True)
class FaceBox:
    """A face box in pixels of a square image: columns x1..x2-1, rows y1..y2-1."""

    x1: int
    y1: int
    x2: int
    y2: int
    size: int  # side of the image the box lives in

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    def rescaled(self, size: int) -> "FaceBox":
        """The same box in a square image of side `size` (e.g. frames rendered at another resolution)."""
        if size == self.size:
            return self
        s = size / self.size
        return FaceBox(round(self.x1 * s), round(self.y1 * s), max(round(self.x2 * s), round(self.x1 * s) + 1),
                       max(round(self.y2 * s), round(self.y1 * s) + 1), size)


def face_box(landmarks: torch.Tensor, crop_size: int, pads: tuple[int, int, int, int] = DEFAULT_PADS) -> FaceBox:
    """Wav2Lip's face box in crop pixels from the face mesh: the face oval's extent, padded, clipped to the crop.

    landmarks: [468, 3] crop pixels (x right, y down). pads: (top, bottom, left, right) pixels added outwards
    (negative values shrink the box), as Wav2Lip's --pads.
    """
    oval = landmarks[list(FACE_OVAL), :2].double()
    top, bottom, left, right = pads
    x1 = max(math.floor(oval[:, 0].min().item()) - left, 0)
    y1 = max(math.floor(oval[:, 1].min().item()) - top, 0)
    x2 = min(math.ceil(oval[:, 0].max().item()) + right, crop_size)
    y2 = min(math.ceil(oval[:, 1].max().item()) + bottom, crop_size)
    if x2 - x1 < 8 or y2 - y1 < 8:
        raise ValueError(f"face box ({x1}, {y1})-({x2}, {y2}) in a {crop_size}px crop is smaller than 8 px or "
                         f"empty: the face landmarks lie outside the crop, or pads {pads} cut the box away; "
                         f"re-run face analysis or use smaller pads")
    return FaceBox(x1, y1, x2, y2, crop_size)


def rgb_to_bgr(images: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Swap the first and third colour channels along `dim` (its own inverse: also BGR -> RGB)."""
    return images.flip(dim)


def crop_faces(frames: torch.Tensor, box: FaceBox) -> torch.Tensor:
    """frames [B, S, S, 3] RGB 0..1 -> the box resized to [B, 3, 96, 96] RGB (aspect not kept, as Wav2Lip)."""
    region = frames[:, box.y1:box.y2, box.x1:box.x2, :].permute(0, 3, 1, 2)  # [B, 3, h, w]
    # antialias: the box is usually larger than 96 px and plain bilinear would alias the teeth and lip edges
    return F.interpolate(region, size=(FACE_SIZE, FACE_SIZE), mode="bilinear", align_corners=False,
                         antialias=True).clamp(0, 1)


def wav2lip_input(faces: torch.Tensor) -> torch.Tensor:
    """faces [B, 3, 96, 96] RGB -> Wav2Lip's face input [B, 6, 96, 96] BGR: lower half zeroed target + reference.

    At inference the target and the reference are the same crop; Wav2Lip redraws the zeroed lower half.
    """
    reference = rgb_to_bgr(faces)
    target = reference.clone()
    target[:, :, FACE_SIZE // 2:] = 0  # rows 48..95: the mouth and jaw Wav2Lip must generate from audio
    return torch.cat((target, reference), dim=1)


def paste_faces(frames: torch.Tensor, faces: torch.Tensor, box: FaceBox, blend: str = "feathered") -> torch.Tensor:
    """Put Wav2Lip's faces [B, 3, 96, 96] RGB back into the box of frames [B, S, S, 3]; a new tensor, inputs kept."""
    if blend not in BLEND_MODES:
        raise ValueError(f"blend: expected one of {BLEND_MODES}, got {blend!r}")
    resized = F.interpolate(faces, size=(box.height, box.width), mode="bilinear", align_corners=False)
    resized = resized.clamp(0, 1).permute(0, 2, 3, 1).to(frames.dtype)  # [B, h, w, 3]
    out = frames.clone()
    region = out[:, box.y1:box.y2, box.x1:box.x2, :]
    if blend == "box":
        region.copy_(resized)
        return out
    alpha = paste_mask(box.height, box.width, device=frames.device, dtype=frames.dtype)  # [h, w, 1]
    region.copy_(region * (1 - alpha) + resized * alpha)
    return out


def paste_mask(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """[h, w, 1] weight of Wav2Lip's output for blend="feathered": 0 on the upper face, 1 on mouth and jaw."""
    y = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height  # row centres, 0..1
    x = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    seam = ((y - _SEAM[0]) / (_SEAM[1] - _SEAM[0])).clamp(0, 1)
    bottom = ((1 - y) / _EDGE).clamp(0, 1)
    sides = (torch.minimum(x, 1 - x) / _EDGE).clamp(0, 1)
    return ((seam * bottom)[:, None] * sides[None, :]).unsqueeze(-1).to(dtype)
