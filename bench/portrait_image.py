"""A portrait file as the face stack takes it, for the bench scripts that render one picture (eye_sheet.py,
mouth_sheet.py, render_gain.py): RGB float 0..1 [H, W, 3], shrunk (Lanczos) so its longest side is at most max_side."""
import numpy as np
import torch
from PIL import Image


def load_portrait(path: str, max_side: int) -> torch.Tensor:
    picture = Image.open(path).convert("RGB")
    scale = max_side / max(picture.size)
    if scale < 1:
        picture = picture.resize((round(picture.size[0] * scale), round(picture.size[1] * scale)), Image.LANCZOS)
    return torch.from_numpy(np.array(picture)).float() / 255
