"""The frame/sample rule: T = ceil(S * fps / sr) and exactly ceil(T * sr / fps) samples for T frames."""
import math

import pytest

from comfyui_modit.modit.timing import frame_of_time, frames_for_samples, samples_for_frames


@pytest.mark.parametrize("sr", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("fps", [10, 24, 25, 29.97, 30, 60])
def test_samples_cover_frames_and_round_trip(sr, fps):
    for samples in (1, 639, 640, 641, sr, 7 * sr + 13):
        frames = frames_for_samples(samples, sr, fps)
        covered = samples_for_frames(frames, sr, fps)
        assert covered >= samples, "the frames must cover all the audio"
        assert covered - samples < sr / fps + 1, "less than one frame of padding"
        assert frames_for_samples(covered, sr, fps) == frames, "padding to the rule keeps the frame count"


def test_matches_core_create_video_trim():
    # core CreateVideo keeps ceil(sr / fps * frames) samples: ours must be the same number.
    for frames in (1, 24, 250, 1501):
        assert samples_for_frames(frames, 44100, 25) == math.ceil(44100 / 25 * frames)


def test_ntsc_rate_is_exact():
    # 30000/1001 fps passed as a float: 30000 frames are exactly 1001 s = 48048000 samples at 48 kHz.
    assert samples_for_frames(30000, 48000, 30000 / 1001) == 48000 * 1001


def test_frame_of_time_floor():
    assert frame_of_time(0.0, 25) == 0
    assert frame_of_time(0.0399, 25) == 0
    assert frame_of_time(0.04, 25) == 1
    assert frames_for_samples(0, 16000, 25) == 0


@pytest.mark.parametrize("fps", [25, 29.97, 30000 / 1001, 24.975, 12.345, 60])
def test_frame_bounds_are_the_rule(fps):
    from comfyui_modit.modit.timing import frame_bounds

    bounds = frame_bounds(200, 22050, fps)
    assert bounds.tolist() == [samples_for_frames(i, 22050, fps) for i in range(201)]
