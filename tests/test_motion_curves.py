"""The node-side curve summary keeps peaks when downsampling and reports the clip's duration."""
import math

import torch

from comfyui_modit.modit.face.components import JAW_OPEN, NUM_COMPONENTS, SPACE_NAME
from comfyui_modit.modit.motion_curves import motion_ui
from comfyui_modit.modit.types import Motion


def test_long_motion_is_summarised_with_peaks():
    T = 25 * 60
    expression = torch.zeros(T, NUM_COMPONENTS)
    expression[777, JAW_OPEN] = 0.9  # a single open-mouth frame must survive downsampling
    pose = torch.zeros(T, 6)
    pose[:, 0] = math.radians(3) * torch.sin(torch.arange(T) / 50)
    motion = Motion(expression, pose, torch.zeros(T, 2), 25.0, SPACE_NAME)
    (summary,) = motion_ui(motion)["modit_motion"]
    assert summary["duration"] == 60.0 and summary["frames"] == T
    mouth = summary["curves"]["mouth open"]
    assert len(mouth) <= 400 and max(mouth) == 0.9
    assert abs(max(summary["curves"]["yaw (deg)"]) - 3.0) < 0.05
