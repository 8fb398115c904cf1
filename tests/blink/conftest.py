"""Shared inputs for the blink tests: speech-like audio features, a silent clip and a stand-in source face."""
import math

import numpy as np
import pytest
import torch

from comfyui_modit.modit.face.components import NUM_COMPONENTS, SPACE_NAME
from comfyui_modit.modit.timing import samples_for_frames
from comfyui_modit.modit.types import AudioFeatures, Face, Motion

FPS = 25.0
SAMPLE_RATE = 16000


def speech_like(num_frames: int, fps: float = FPS, silent: bool = False) -> AudioFeatures:
    """3 s of voiced bursts (180 Hz, syllables at 4 Hz) then 1 s of pause, repeated; or digital silence."""
    samples = samples_for_frames(num_frames, SAMPLE_RATE, fps)
    t = np.arange(samples) / SAMPLE_RATE
    if silent:
        wave = np.zeros(samples)
    else:
        voiced = (t % 4.0) < 3.0
        wave = 0.3 * voiced * np.sin(2 * math.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * math.pi * 4 * t)) ** 2
    return AudioFeatures(features=torch.zeros(num_frames, 80), fps=fps, kind="mel80",
                         waveform=torch.tensor(wave, dtype=torch.float32), sample_rate=SAMPLE_RATE)


def still_motion(num_frames: int, fps: float = FPS) -> Motion:
    beta_0 = torch.zeros(NUM_COMPONENTS)
    beta_0[3] = 0.2  # a slight resting smile
    return Motion.still(beta_0, num_frames, fps, SPACE_NAME)


def make_face(eye_openness=(1.0, 1.0)) -> Face:
    mesh = torch.rand(468, 3, generator=torch.Generator().manual_seed(0)) * 256
    beta_0 = torch.zeros(NUM_COMPONENTS)
    beta_0[3] = 0.2
    return Face(image=torch.zeros(64, 64, 3), crop=torch.zeros(32, 32, 3),
                crop_to_image=torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64),
                landmarks=mesh, iris=torch.zeros(2, 5, 3), pose=torch.zeros(6), beta_0=beta_0,
                eye_openness=torch.tensor(eye_openness), neutral_mesh=mesh, space=SPACE_NAME)


@pytest.fixture
def face():
    return make_face()
