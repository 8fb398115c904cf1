"""The stage dataclasses refuse inconsistent data at the node that made it."""
import pytest
import torch

from comfyui_modit.modit.timing import samples_for_frames
from comfyui_modit.modit.types import AudioFeatures, Motion


def test_audio_features_require_exact_audio_length():
    T, fps, sr = 50, 25.0, 16000
    good = torch.zeros(samples_for_frames(T, sr, fps))
    features = AudioFeatures(torch.zeros(T, 8), fps, "mel80", good, sr)
    assert features.num_frames == T and features.duration == 2.0
    audio = features.to_comfy_audio()
    assert audio["waveform"].shape == (1, 1, good.shape[0]) and audio["sample_rate"] == sr
    with pytest.raises(ValueError, match="need 32000 samples"):
        AudioFeatures(torch.zeros(T, 8), fps, "mel80", torch.zeros(good.shape[0] + 1), sr)


def test_motion_shapes_must_agree():
    motion = Motion.still(torch.ones(12), 10, 25.0, "embedded-v1")
    assert motion.expression.shape == (10, 12) and motion.pose.abs().sum() == 0
    with pytest.raises(ValueError, match="pose must be"):
        motion.replace(pose=torch.zeros(9, 6))
    faster = motion.replace(fps=50.0)
    assert faster.duration == 0.2 and motion.fps == 25.0, "replace returns a copy"
