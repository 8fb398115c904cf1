"""MoDiT Blink & Pose fills pose and eye closure, keeps expression, and honours still mode and seeds."""
import math

import pytest
import torch

from comfyui_modit.modit.blink.blink_pose import count_blinks
from comfyui_modit.modit.blink.mapping_net import BlinkMappingNet, mapping_tiny, save_mapping_net
from comfyui_modit.nodes import run_node_with_ui

from .conftest import FPS, make_face, speech_like, still_motion

T = int(40 * FPS)


def run(motion, audio, face, **options):
    values = {"seed": 0, "blink_rate": 17.0, "head_motion": "natural", "pose_amount": 1.0,
              "pose_model": "statistical"}
    values.update(options)
    (result,), ui = run_node_with_ui("MoDiTBlinkPose", motion=motion, face=face, audio_features=audio, **values)
    assert ui["modit_motion"][0]["frames"] == motion.num_frames
    return result


def test_fills_pose_and_blinks_and_keeps_expression(face):
    motion, audio = still_motion(T), speech_like(T)
    result = run(motion, audio, face)
    assert result.pose.shape == (T, 6) and result.eye_closure.shape == (T, 2)
    assert result.pose.dtype == torch.float32 and result.eye_closure.dtype == torch.float32
    assert torch.equal(result.expression, motion.expression)
    assert result.fps == motion.fps and result.space == motion.space
    assert result.pose.abs().max() > 0.005 and count_blinks(result.eye_closure) >= 3
    assert motion.pose.abs().sum() == 0 and motion.eye_closure.abs().sum() == 0, "input motion was mutated"


def test_still_mode_keeps_pose_constant_and_still_blinks(face):
    result = run(still_motion(T), speech_like(T), face, head_motion="still")
    assert (result.pose == result.pose[0]).all() and result.pose.abs().sum() == 0
    assert count_blinks(result.eye_closure) >= 3
    assert result.eye_closure.max() >= 0.9


def test_same_seed_same_motion(face):
    motion, audio = still_motion(T), speech_like(T)
    a, b = run(motion, audio, face, seed=7), run(motion, audio, face, seed=7)
    assert torch.equal(a.pose, b.pose) and torch.equal(a.eye_closure, b.eye_closure)
    c = run(motion, audio, face, seed=8)
    assert not torch.equal(a.pose, c.pose) and not torch.equal(a.eye_closure, c.eye_closure)


def test_changing_blink_rate_leaves_pose_alone(face):
    motion, audio = still_motion(T), speech_like(T)
    a, b = run(motion, audio, face, blink_rate=10.0), run(motion, audio, face, blink_rate=30.0)
    assert torch.equal(a.pose, b.pose)
    assert count_blinks(b.eye_closure) > count_blinks(a.eye_closure)


def test_a_portrait_already_turned_moves_its_head_less(face):
    """A portrait whose own yaw is past TURNED_DEGREES turns, nods and tilts by TURNED_SCALE of a frontal one's
    (moving it bends the far cheek's contour against the background); one turned half as far by a share between."""
    from dataclasses import replace

    from comfyui_modit.modit.blink.head_motion import TURNED_DEGREES, TURNED_SCALE

    motion, audio = still_motion(T), speech_like(T)
    frontal = run(motion, audio, face).pose
    far = replace(face, pose=torch.tensor([-math.radians(TURNED_DEGREES[1] + 3), 0, 0, 0, 0, 0]))
    turned = run(motion, audio, far).pose
    assert torch.allclose(turned[:, :3], TURNED_SCALE * frontal[:, :3], atol=1e-6)
    halfway = replace(face, pose=torch.tensor([math.radians(sum(TURNED_DEGREES) / 2), 0, 0, 0, 0, 0]))
    ratio = run(motion, audio, halfway).pose[:, :3].std(0) / frontal[:, :3].std(0)
    assert (TURNED_SCALE + 0.1 < ratio).all() and (ratio < 0.9).all()


def test_frame_count_mismatch_names_both_sides(face):
    with pytest.raises(ValueError, match=r"1000 frames .* 999 frames"):
        run(still_motion(1000), speech_like(999), face)


def test_mapping_net_checkpoint_mode(face, models_dir, combo_options):
    net = BlinkMappingNet(mapping_tiny())
    with torch.no_grad():  # give the untrained net a visible, expression-dependent output
        net.heads["yaw"].weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(0))
    save_mapping_net(str(models_dir / "modit" / "blink_test.safetensors"), net, "embedded-v1", FPS)
    assert "blink_test.safetensors" in combo_options("MoDiTBlinkPose", "pose_model")
    motion = still_motion(200)
    result = run(motion, speech_like(200), face, pose_model="blink_test.safetensors")
    assert result.pose[:, 0].abs().max() > 0 and result.pose[:, 1:].abs().sum() == 0
    still = run(motion, speech_like(200), face, pose_model="blink_test.safetensors", head_motion="still")
    assert still.pose.abs().sum() == 0


def test_a_turned_portrait_shrinks_the_mapping_nets_rotations_too(face, models_dir):
    """The share a turned portrait takes of the statistical rotations applies to a mapping net's predicted ones."""
    from dataclasses import replace

    from comfyui_modit.modit.blink.head_motion import TURNED_DEGREES, TURNED_SCALE

    net = BlinkMappingNet(mapping_tiny())
    with torch.no_grad():
        for head in ("yaw", "translation"):
            net.heads[head].weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(0))
    save_mapping_net(str(models_dir / "modit" / "blink_turned.safetensors"), net, "embedded-v1", FPS)
    motion, audio = still_motion(200), speech_like(200)
    frontal = run(motion, audio, face, pose_model="blink_turned.safetensors").pose
    far = replace(face, pose=torch.tensor([math.radians(TURNED_DEGREES[1] + 5), 0, 0, 0, 0, 0]))
    turned = run(motion, audio, far, pose_model="blink_turned.safetensors").pose
    assert frontal[:, 0].abs().max() > 0 and frontal[:, 3].abs().max() > 0
    assert torch.allclose(turned[:, :3], TURNED_SCALE * frontal[:, :3], atol=1e-6)
    assert torch.equal(turned[:, 3:], frontal[:, 3:]), "translations do not bend the far cheek: kept"


def test_closed_source_eyes_warn(caplog):
    face = make_face(eye_openness=(0.1, 0.1))
    run(still_motion(100), speech_like(100), face)
    assert "eyes look closed" in caplog.text


@pytest.mark.parametrize("frames", [0, 1, 2])
def test_tiny_clips_and_the_largest_seed_work(face, frames):
    result = run(still_motion(frames), speech_like(frames), face, seed=0xFFFFFFFFFFFFFFFF)
    assert result.pose.shape == (frames, 6) and result.eye_closure.shape == (frames, 2)
    assert float(result.pose.abs().sum()) < 1e-3 and result.pose[:1].abs().sum() == 0, "motion fades in"
