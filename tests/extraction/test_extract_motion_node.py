"""MoDiT Extract Motion on the clip the tests render: a MODIT_MOTION that follows the driving jaw curve."""
import numpy as np
import pytest
import torch

from comfyui_modit.modit.face.components import JAW_OPEN
from comfyui_modit.modit.types import Motion
from comfyui_modit.nodes import run_node

from .conftest import FPS, FRAMES, jaw_curve, noise_audio


@pytest.fixture(scope="module")
def extracted(driven_frames):
    audio = noise_audio(FRAMES / FPS + 0.5)  # longer than the frames: trimmed on the way out
    return run_node("MoDiTExtractMotion", fps=float(FPS), missing_face="interpolate", frames=driven_frames,
                    audio=audio)


def test_motion_follows_the_video(extracted):
    motion, audio = extracted
    assert isinstance(motion, Motion) and motion.num_frames == FRAMES and motion.fps == FPS
    assert motion.space == "embedded-v1"
    r = np.corrcoef(motion.expression[:, JAW_OPEN].numpy(), jaw_curve())[0, 1]
    assert r > 0.9, f"jaw_open r={r:.2f} against the driving curve"
    assert float(motion.pose[0].abs().max()) == 0.0 and float(motion.pose.abs().max()) < 0.05
    assert float(motion.eye_closure.max()) < 0.5, "the rendered eyes never close"
    assert audio["waveform"].shape[-1] == 16000 * FRAMES // FPS


def test_retargeted_to_a_face_keeps_its_beta_0(driven_frames, portrait_face):
    face = portrait_face
    shifted = type(face)(**{**face.__dict__, "beta_0": face.beta_0 + 0.2})
    motion, _ = run_node("MoDiTExtractMotion", fps=float(FPS), missing_face="interpolate",
                         frames=driven_frames[:10], face=shifted)
    assert torch.allclose(motion.expression[0], shifted.beta_0, atol=1e-5)


def _with_blank_frames(frames):
    blank = frames.clone()
    blank[3:5] = 0.5  # two frames with no face
    return blank[:12]


def test_missing_faces_follow_the_named_policy(driven_frames):
    frames = _with_blank_frames(driven_frames)
    interpolated, _ = run_node("MoDiTExtractMotion", fps=25.0, missing_face="interpolate", frames=frames)
    held, _ = run_node("MoDiTExtractMotion", fps=25.0, missing_face="hold previous", frames=frames)
    jaw_i, jaw_h = interpolated.expression[:, JAW_OPEN], held.expression[:, JAW_OPEN]
    assert torch.equal(jaw_h[3], jaw_h[2]) and torch.equal(jaw_h[4], jaw_h[2])
    expected = jaw_i[2] + (jaw_i[5] - jaw_i[2]) / 3
    assert torch.allclose(jaw_i[3], expected, atol=1e-5)
    with pytest.raises(ValueError, match="no face found in frame 3"):
        run_node("MoDiTExtractMotion", fps=25.0, missing_face="error", frames=frames)


def test_clear_errors():
    with pytest.raises(ValueError, match="connect frames"):
        run_node("MoDiTExtractMotion", fps=25.0, missing_face="interpolate")
    with pytest.raises(ValueError, match="no face found in any"):
        run_node("MoDiTExtractMotion", fps=25.0, missing_face="interpolate", frames=torch.full((3, 64, 64, 3), 0.5))


def test_core_video_input_gives_frames_fps_and_audio(driven_frames):
    from fractions import Fraction
    from types import SimpleNamespace

    audio = noise_audio(1.0)
    video = SimpleNamespace(get_components=lambda: SimpleNamespace(images=driven_frames[:10], audio=audio,
                                                                   frame_rate=Fraction(30)))
    motion, out_audio = run_node("MoDiTExtractMotion", fps=25.0, missing_face="interpolate", video=video)
    assert motion.fps == 30.0 and motion.num_frames == 10
    assert out_audio["waveform"].shape[-1] == 16000 * 10 // 30 + 1  # ceil(10 / 30 s * 16 kHz)
