"""A picture of a motion track: mouth opening, eye closure and head rotation as curves over time."""
import math

import numpy as np
import torch

from ..face.components import JAW_OPEN, SPACE_NAME
from ..types import Motion

BACKGROUND = (24, 24, 28)
GRID = (60, 60, 68)
TEXT = (210, 210, 215)
COLOURS = {"mouth": (240, 170, 60), "left eye": (90, 200, 250), "right eye": (250, 110, 170),
           "yaw": (240, 90, 80), "pitch": (110, 210, 110), "roll": (120, 140, 250)}
LINE_WIDTH = {"left eye": 3, "right eye": 1}  # the eyes mostly overlap: a thin line over a thick one shows both


def _font(size: int):
    from PIL import ImageFont  # ComfyUI ships Pillow

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        return ImageFont.load_default()


def _panels(motion: Motion) -> list[tuple[str, str, list[tuple[str, np.ndarray]], tuple[float, float]]]:
    """(title, unit, [(label, values [T])], (low, high)) for each panel, top to bottom."""
    expression = motion.expression.detach().float().cpu().numpy()
    if motion.space == SPACE_NAME:
        mouth = expression[:, JAW_OPEN]
        mouth_panel = ("mouth open (jaw_open)", "", [("mouth", mouth)], (min(0.0, mouth.min()), max(1.0, mouth.max())))
    else:  # a space without a named jaw channel: show how far the expression moves from its first frame
        change = np.linalg.norm(expression - expression[:1], axis=1)
        mouth_panel = (f"expression change ({motion.space})", "", [("mouth", change)], (0.0, max(1e-3, change.max())))
    closure = motion.eye_closure.detach().float().cpu().numpy()
    eyes_panel = ("eye closure", "", [("left eye", closure[:, 0]), ("right eye", closure[:, 1])], (0.0, 1.0))
    degrees = np.degrees(motion.pose.detach().float().cpu().numpy()[:, :3])
    reach = max(2.0, float(np.abs(degrees).max()) * 1.1) if degrees.size else 2.0
    pose_panel = ("head rotation", "deg", [("yaw", degrees[:, 0]), ("pitch", degrees[:, 1]), ("roll", degrees[:, 2])],
                  (-reach, reach))
    return [mouth_panel, eyes_panel, pose_panel]


def _time_step(duration: float) -> float:
    """A round tick spacing giving about 5-10 ticks."""
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if duration / step <= 10:
            return step
    return 1200


def draw_motion_curves(motion: Motion, width: int = 1024, height: int = 512) -> torch.Tensor:
    """Curves of a motion track as an image [1, H, W, 3] float32 0..1."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = _font(max(10, height // 40))
    left, right, top, bottom = 56, 12, 8, 22
    panels = _panels(motion)
    panel_height = (height - top - bottom) / len(panels)
    T = motion.num_frames
    plot_width = width - left - right
    xs = left + (np.arange(T) + 0.5) / max(T, 1) * plot_width

    for index, (title, unit, curves, (low, high)) in enumerate(panels):
        y0 = top + index * panel_height + 14
        y1 = top + (index + 1) * panel_height - 6
        draw.rectangle([left, y0, width - right, y1], outline=GRID)
        for value in (low, 0.0, high) if low < 0 < high else (low, high):
            y = y1 - (value - low) / (high - low) * (y1 - y0)
            draw.line([left, y, width - right, y], fill=GRID)
            draw.text((4, y - 6), f"{value:+.1f}" if unit else f"{value:.1f}", fill=TEXT, font=font)
        legend = title + (f" [{unit}]" if unit else "")
        draw.text((left, y0 - 14), legend, fill=TEXT, font=font)
        x_legend = left + draw.textlength(legend, font=font) + 16
        for label, values in curves:
            colour = COLOURS[label]
            if len(curves) > 1:
                draw.line([x_legend, y0 - 7, x_legend + 14, y0 - 7], fill=colour, width=2)
                draw.text((x_legend + 18, y0 - 14), label, fill=TEXT, font=font)
                x_legend += 18 + draw.textlength(label, font=font) + 14
            if T == 0:
                continue
            ys = y1 - (np.clip(values, low, high) - low) / (high - low) * (y1 - y0)
            draw.line(list(zip(xs.tolist(), ys.tolist())) if T > 1 else [(xs[0], ys[0]), (xs[0] + 1, ys[0])],
                      fill=colour, width=LINE_WIDTH.get(label, 2))

    duration = motion.duration
    step = _time_step(duration)
    for k in range(int(math.floor(duration / step)) + 1):
        x = left + k * step / max(duration, 1e-9) * plot_width
        draw.line([x, height - bottom, x, height - bottom + 4], fill=TEXT)
        draw.text((x - 6, height - bottom + 5), f"{k * step:g}s", fill=TEXT, font=font)

    array = np.asarray(image, dtype=np.float32) / 255.0  # [H, W, 3]
    return torch.from_numpy(array).unsqueeze(0)  # [1, H, W, 3]
