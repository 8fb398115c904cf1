"""Reference transfer: pose and blinks measured per frame (face stack stubbed) become Motion offsets."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from comfyui_modit.modit.blink import reference as reference_module
from comfyui_modit.modit.blink.blink_pose import count_blinks
from comfyui_modit.modit.blink.reference import fit_length, measure_reference
from comfyui_modit.modit.types import Face
from comfyui_modit.nodes import blink as blink_nodes
from comfyui_modit.nodes import run_node

from .conftest import make_face, speech_like, still_motion

R = 60
BLINK = {20: 0.9, 21: 0.5, 22: 0.05, 23: 0.4, 24: 0.8}  # eye openness during one reference blink
NO_FACE = 30


def true_yaw(i):
    return 0.05 * math.sin(i / 10)


def stub_analyse(image: torch.Tensor) -> Face:
    """A 'face stack' that reads the frame number from pixel (0, 0) and reports a known head."""
    i = int(round(float(image[0, 0, 0]) * 100))
    if i == NO_FACE:
        raise ValueError("source image: no face found")
    base = make_face()
    crop_side_scale = 2.0 * (1 + 0.002 * i)  # image px per crop px: the face grows slowly (leans in)
    affine = torch.tensor([[crop_side_scale, 0, 100.0 + i], [0, crop_side_scale, 50.0]], dtype=torch.float64)
    pose = torch.tensor([true_yaw(i), 0.0, 0.001 * i, 0.0, 0.0, 1.0])
    openness = torch.tensor([BLINK.get(i, 1.0), BLINK.get(i, 1.0) + (0.02 if i in BLINK else 0.0)])
    landmarks = torch.zeros(468, 3)
    landmarks[:, :2] = 16.0  # the crop centre (crop is 32 px)
    return Face(image=base.image, crop=base.crop, crop_to_image=affine, landmarks=landmarks, iris=base.iris,
                pose=pose, beta_0=base.beta_0, eye_openness=openness, neutral_mesh=base.neutral_mesh,
                space=base.space)


def reference_frames(count=R):
    return torch.arange(count).float().div(100).reshape(-1, 1, 1, 1).expand(count, 8, 8, 3).clone()


def test_measured_pose_and_blinks_are_offsets_from_the_first_frame():
    track = measure_reference(reference_frames(), analyse=stub_analyse)
    assert track.pose.shape == (R, 6) and track.eye_closure.shape == (R, 2)
    assert not bool(track.found[NO_FACE]) and int(track.found.sum()) == R - 1
    yaw = np.array([true_yaw(i) - true_yaw(0) for i in range(R)])
    assert np.abs(track.pose[5:-5, 0].numpy() - yaw[5:-5]).max() < 0.003
    assert abs(float(track.pose[40, 2]) - 0.040) < 0.002  # roll
    side0 = 2.0 * 32
    centre_shift = 40 + 16 * 2.0 * 0.002 * 40  # moved 40 px right; growing about the crop corner adds a bit
    assert abs(float(track.pose[40, 3]) - centre_shift / side0) < 0.01  # tx in crop-size units
    assert abs(float(track.pose[40, 5]) - math.log(1 + 0.002 * 40)) < 0.005  # tz: log size ratio
    assert float(track.eye_closure[22].min()) >= 0.9 and float(track.eye_closure[:18].max()) == 0.0
    assert count_blinks(track.eye_closure) == 1


def test_no_face_anywhere_is_an_error():
    def never(image):
        raise ValueError("no face")

    with pytest.raises(ValueError, match="no face found in any of the 4 frames"):
        measure_reference(reference_frames(4), analyse=never)


def test_short_reference_ping_pongs_without_jumps():
    track = torch.arange(5.0).reshape(5, 1)
    assert fit_length(track, 12)[:, 0].tolist() == [0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3]
    assert fit_length(track, 3)[:, 0].tolist() == [0, 1, 2]
    assert fit_length(track[:1], 3)[:, 0].tolist() == [0, 0, 0]


def test_node_transfers_the_reference(monkeypatch, face):
    monkeypatch.setattr(blink_nodes, "measure_reference",
                        lambda frames: reference_module.measure_reference(frames, analyse=stub_analyse))
    T = 100
    options = dict(face=face, seed=0, blink_rate=17.0, head_motion="natural", pose_amount=1.0, pose_model="statistical",
                   reference_frames=reference_frames())
    both = run_node("MoDiTBlinkPose", motion=still_motion(T), audio_features=speech_like(T), **options)[0]
    track = measure_reference(reference_frames(), analyse=stub_analyse)
    assert torch.allclose(both.pose[:R], track.pose) and torch.allclose(both.eye_closure[:R], track.eye_closure)
    assert torch.allclose(both.pose[R:R + 5], track.pose.flip(0)[1:6])  # played backwards after the end
    blinks_only = run_node("MoDiTBlinkPose", motion=still_motion(T), audio_features=speech_like(T),
                           reference_use="blinks only", **options)[0]
    assert torch.allclose(blinks_only.eye_closure[:R], track.eye_closure)
    assert not torch.allclose(blinks_only.pose[:R], track.pose)  # statistical pose
    still = run_node("MoDiTBlinkPose", motion=still_motion(T), audio_features=speech_like(T),
                     **{**options, "head_motion": "still"})[0]
    assert still.pose.abs().sum() == 0 and torch.allclose(still.eye_closure[:R], track.eye_closure)


def test_a_turned_portrait_takes_the_reference_motion_in_full_and_is_told_how_to_lower_it(monkeypatch, caplog):
    """The user chose the reference's motion: a turned portrait is not attenuated, but the log says what would be."""
    import logging

    monkeypatch.setattr(blink_nodes, "measure_reference",
                        lambda frames: reference_module.measure_reference(frames, analyse=stub_analyse))
    T = 100
    options = dict(seed=0, blink_rate=17.0, head_motion="natural", pose_amount=1.0, pose_model="statistical",
                   reference_frames=reference_frames())
    turned = dataclasses.replace(make_face(), pose=torch.tensor([math.radians(40), 0, 0, 0, 0, 0]))
    with caplog.at_level(logging.INFO):
        result = run_node("MoDiTBlinkPose", motion=still_motion(T), audio_features=speech_like(T), face=turned,
                          **options)[0]
    track = measure_reference(reference_frames(), analyse=stub_analyse)
    assert torch.allclose(result.pose[:R], track.pose)
    assert "turned 40 degrees" in caplog.text and "pose_amount to about 0.4" in caplog.text


def test_first_analysed_frame_is_exactly_the_source_pose():
    track = measure_reference(reference_frames(), analyse=stub_analyse)
    assert track.pose[0].abs().max() == 0.0
