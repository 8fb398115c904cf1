"""The encodable frame size: every frame the pack returns or encodes has an even width and height.

H.264 in yuv420p (what core SaveVideo and MoDiT Render To Video write) stores colour at half resolution, so
libx264 refuses odd sizes (`avcodec_open2("libx264")` fails on a 640x959 portrait). The rule, the same on
both paths (frames as IMAGE -> CreateVideo -> SaveVideo, and the streaming render): a side of odd length
loses its last pixel row / column (crop, never resample), so 640x959 -> 640x958, 3511x3511 -> 3510x3510,
225x301 -> 224x300. Nothing moves or scales: every kept pixel is the renderer's own, and the mask stays aligned.
"""
import torch

MIN_SIDE = 2  # the smallest encodable side


def encodable_size(height: int, width: int) -> tuple[int, int]:
    """(height, width) rounded down to even numbers; ValueError if a side would be under MIN_SIDE."""
    if height < MIN_SIDE or width < MIN_SIDE:
        raise ValueError(f"frames of {width}x{height} px cannot be encoded as H.264 (each side needs at least "
                         f"{MIN_SIDE} px); use a larger portrait or output_size")
    return height // 2 * 2, width // 2 * 2


def crop_to_encodable(frames: torch.Tensor) -> torch.Tensor:
    """IMAGE [T, H, W, C] or MASK [T, H, W] with H and W cut to even numbers (a view, no copy).

    A view like core ImageCrop's output: downstream nodes read it like any IMAGE.
    """
    height, width = encodable_size(frames.shape[1], frames.shape[2])
    if (height, width) == tuple(frames.shape[1:3]):
        return frames
    return frames[:, :height, :width]
