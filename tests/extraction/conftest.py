"""A short talking clip made here: the bundled portrait rendered under a known jaw_open curve, with a soundtrack."""
import os

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORTRAIT = os.path.join(ROOT, "samples", "portrait.png")
FPS = 25
FRAMES = 75  # 3 s
SIZE = 256


def jaw_curve(num_frames: int = FRAMES, fps: float = FPS) -> np.ndarray:
    """The driving jaw_open offset: two syllables a second, 0 .. 0.6, never periodic at the frame rate."""
    t = np.arange(num_frames) / fps
    return 0.3 * (1 - np.cos(2 * np.pi * 1.7 * t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.4 * t))


def noise_audio(seconds: float, rate: int = 16000, level: float = 0.1, seed: int = 0) -> dict:
    """A tone plus noise (not silent), as a core AUDIO dict."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = level * (0.5 * np.sin(2 * np.pi * 220 * t) + rng.standard_normal(t.size) * 0.5)
    return {"waveform": torch.from_numpy(wave.astype(np.float32)).reshape(1, 1, -1), "sample_rate": rate}


def silent_audio(seconds: float, rate: int = 16000) -> dict:
    return {"waveform": torch.zeros(1, 1, int(seconds * rate)), "sample_rate": rate}


@pytest.fixture(scope="session")
def portrait_face():
    try:
        from comfyui_modit.modit.face.analysis import analyse_portrait, default_stack
        default_stack()
    except (ImportError, FileNotFoundError, ValueError) as error:
        pytest.skip(f"embedded face stack not available here: {error}")
    from PIL import Image

    image = Image.open(PORTRAIT).convert("RGB").resize((SIZE, SIZE), Image.LANCZOS)
    return analyse_portrait(torch.from_numpy(np.array(image)).float() / 255)


@pytest.fixture(scope="session")
def driven_frames(portrait_face):
    """[T, S, S, 3] frames of the portrait under jaw_curve (pose still, eyes as the source)."""
    from comfyui_modit.modit.face.components import JAW_OPEN
    from comfyui_modit.modit.render.renderer import RenderOptions, render_frames
    from comfyui_modit.modit.types import Motion

    motion = Motion.still(portrait_face.beta_0, FRAMES, FPS, portrait_face.space)
    expression = motion.expression.clone()
    expression[:, JAW_OPEN] += torch.from_numpy(jaw_curve()).float()
    frames, _ = render_frames(portrait_face, motion.replace(expression=expression), RenderOptions())
    return frames.float()


def write_clip(path, frames, fps=FPS, audio=None):
    from comfyui_modit.modit.render.video import write_frames

    write_frames(str(path), frames, fps, audio, crf=16)
    return str(path)


@pytest.fixture(scope="session")
def talking_clip(tmp_path_factory, driven_frames):
    return write_clip(tmp_path_factory.mktemp("clip") / "talking.mp4", driven_frames,
                      audio=noise_audio(FRAMES / FPS))
