"""What the frames the pack returns must be: encodable (even width and height) and no larger than memory allows.

H.264 in yuv420p (what core SaveVideo and MoDiT Render To Video write) stores colour at half resolution, so
libx264 refuses odd sizes (`avcodec_open2("libx264")` fails on a 640x959 portrait). The rule, the same on
both paths (frames as IMAGE -> CreateVideo -> SaveVideo, and the streaming render): a side of odd length
loses its last pixel row / column (crop, never resample), so 640x959 -> 640x958, 3511x3511 -> 3510x3510,
225x301 -> 224x300. Nothing moves or scales: every kept pixel is the renderer's own, and the mask stays aligned.
"""
import logging

import torch

log = logging.getLogger(__name__)

MIN_SIDE = 2  # the smallest encodable side
MEMORY_SHARE = 0.8  # an IMAGE batch may take at most this share of the memory available when it is made


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


def render_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """The renderer's output size for a source of height x width and output_size max_side (0 = source),
    after the even-size rule: the longest side capped at max_side, never upscaled (as FlowRenderer sizes it)."""
    scale = 1.0 if max_side <= 0 else min(1.0, max_side / max(height, width))
    return encodable_size(max(round(height * scale), 1), max(round(width * scale), 1))


def available_memory() -> int | None:
    """Bytes of memory the OS can still give this process (Linux MemAvailable, else psutil), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil  # ComfyUI installs it

        return int(psutil.virtual_memory().available)
    except ImportError:
        return None


def check_batch_fits(num_frames: int, height: int, width: int, dtype: torch.dtype, device: torch.device) -> None:
    """ValueError, before anything is allocated, when frames [T, H, W, 3] plus mask [T, H, W] would not fit.

    Only CPU batches are checked (where IMAGE outputs live unless ComfyUI runs --gpu-only): a long clip at a
    large size (60 s of 8000 x 8000 is 1.8 TB) must be a clear error, not an out-of-memory kill of the server.
    """
    if device.type != "cpu":
        return
    needed = num_frames * height * width * 4 * torch.empty(0, dtype=dtype).element_size()
    available = available_memory()
    if available is None or needed <= MEMORY_SHARE * available:
        return
    per_frame = needed / num_frames
    fits = int(MEMORY_SHARE * available // per_frame)
    raise ValueError(f"MoDiT Flow Render: {num_frames} frames of {width}x{height} px need {needed / 2**30:.1f} GiB "
                     f"as an IMAGE batch, but only {available / 2**30:.1f} GiB of memory is free (room for about "
                     f"{fits} frames); use MoDiT Render To Video, which streams frames to an mp4 in flat memory, "
                     f"or a smaller output_size, or shorter audio")
