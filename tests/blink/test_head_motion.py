"""Statistical head motion: natural amplitudes, smooth (bounded jerk), calmer in silence, repeatable."""
import numpy as np
import pytest
import torch

from comfyui_modit.modit.audio.loudness import speech_activity
from comfyui_modit.modit.blink.head_motion import HeadMotionConfig, head_pose

from .conftest import FPS, speech_like

MINUTE = int(60 * FPS)
# rad/s^3 on yaw/pitch/roll: a 1-degree step in one frame would be ~270; a 1 Hz sway of 4 degrees (a real speaker's
# head: ../shared/data/talking, 6 s clips, median speaker) ~17
MAX_JERK = 30.0


def activity_of(features):
    return speech_activity(features.waveform, features.sample_rate, features.fps, features.num_frames)


def test_speech_activity_follows_voice_and_pauses():
    activity = activity_of(speech_like(8 * int(FPS)))
    voiced = activity[: int(3 * FPS)].mean()
    pause = activity[int(3.1 * FPS): int(3.9 * FPS)].mean()
    assert voiced > 0.4 and pause == 0.0
    assert activity_of(speech_like(100, silent=True)).abs().sum() == 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pose_is_smooth_and_moves_as_much_as_a_real_speaker(seed):
    """Over a minute of speech the head turns, nods and tilts about as far as real speakers' heads do (the talking
    clips' median speaker peaks at yaw / pitch / roll 7.7 / 8.5 / 4.3 degrees from the first frame within 6 s; over
    10-30 s, read by bench/head_motion_meter.py, 1st-99th percentile roll spans -11..+12 degrees), not held nearly
    still (the amplitudes before stop 46 gave 0.5-0.8 degrees of pitch and roll); yaw stays under 15 degrees, where
    the renderer still stretches the near ear and draws the folded far cheek as a thin line (bench/outline_meter.py)."""
    pose = head_pose(MINUTE, FPS, activity_of(speech_like(MINUTE)), seed=seed).numpy()
    degrees = np.degrees(np.abs(pose[:, :3])).max(axis=0)
    assert degrees[0] < 15 and degrees[1] < 12 and degrees[2] < 12, f"yaw/pitch/roll peaks {degrees}"
    spread = np.degrees(pose[:, :3].std(axis=0))
    assert (spread > 1.0).all(), f"yaw/pitch/roll standard deviation {spread}"
    # translation (crop units) and scale (log): within real speakers' 90th percentile peaks (0.06-0.10 and 0.09)
    assert np.abs(pose[:, 3:5]).max() < 0.1 and np.abs(pose[:, 5]).max() < 0.08
    jerk = np.diff(pose[:, :3], n=3, axis=0) * FPS ** 3
    assert np.abs(jerk).max() < MAX_JERK
    assert np.abs(pose[0]).max() == 0.0, "the first frame shows the source pose"


def test_silence_gives_calmer_motion_than_speech():
    speech, silence = [], []
    for seed in range(6):
        speech.append(head_pose(MINUTE, FPS, activity_of(speech_like(MINUTE)), seed=seed).numpy())
        silence.append(head_pose(MINUTE, FPS, activity_of(speech_like(MINUTE, silent=True)), seed=seed).numpy())
    speed = lambda poses: np.mean([np.abs(np.diff(p[:, :3], axis=0)).mean() for p in poses])  # noqa: E731
    assert speed(silence) < 0.6 * speed(speech)


def test_amount_scales_and_zero_is_still():
    activity = activity_of(speech_like(500))
    one = head_pose(500, FPS, activity, HeadMotionConfig(amount=1.0), seed=4)
    two = head_pose(500, FPS, activity, HeadMotionConfig(amount=2.0), seed=4)
    assert torch.allclose(two, 2 * one, atol=1e-7)
    assert head_pose(500, FPS, activity, HeadMotionConfig(amount=0.0), seed=4).abs().sum() == 0


def test_seed_determines_pose():
    activity = activity_of(speech_like(400))
    a = head_pose(400, FPS, activity, seed=9)
    assert torch.equal(a, head_pose(400, FPS, activity, seed=9))
    assert not torch.equal(a, head_pose(400, FPS, activity, seed=10))
