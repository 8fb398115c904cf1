"""Motion tools: smoothing, expression scaling, track files (safe names, no overwrite) and the curve preview."""
import math
import os

import numpy as np
import pytest
import torch

from comfyui_modit.modit.face.components import JAW_OPEN, NUM_COMPONENTS, SPACE_NAME
from comfyui_modit.modit.motion.track_files import NO_FILES, SUBFOLDER, validate_track_name
from comfyui_modit.modit.types import Motion
from comfyui_modit.nodes import NODES, run_node, run_node_with_ui

FPS = 25.0


def sample_motion(T: int = 250, seed: int = 0, space: str = SPACE_NAME) -> Motion:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T) / FPS
    expression = 0.1 * torch.rand(T, NUM_COMPONENTS, generator=g)
    expression[:, JAW_OPEN] = 0.4 * (1 + torch.sin(2 * math.pi * 4 * t)) / 2
    pose = 0.03 * torch.randn(T, 6, generator=g)  # jittery on purpose
    pose[:, 0] += math.radians(3) * torch.sin(2 * math.pi * 0.3 * t)
    closure = torch.zeros(T, 2)
    if T > 106:
        closure[100:106] = torch.tensor([0.3, 0.8, 1.0, 0.7, 0.4, 0.1])[:, None]
    return Motion(expression, pose, closure, FPS, space)


def result_of(outputs):
    return outputs[0]


def track_choices():
    return NODES["MoDiTLoadMotion"].define_schema().inputs[0].options


def smooth(motion, expression_smoothing, pose_smoothing):
    return run_node("MoDiTSmoothMotion", motion=motion, expression_smoothing=expression_smoothing,
                    pose_smoothing=pose_smoothing)


def scale(motion, scale, components, face=None):
    return run_node("MoDiTScaleExpression", motion=motion, scale=scale, components=components,
                    **({"face": face} if face is not None else {}))


def save(motion, filename):
    """(outputs, ui) of MoDiT Save Motion."""
    return run_node_with_ui("MoDiTSaveMotion", motion=motion, filename=filename)


def load(track):
    return run_node("MoDiTLoadMotion", track=track)


def preview(motion, width, height):
    return run_node("MoDiTPreviewMotion", motion=motion, width=width, height=height)


def test_smoothing_calms_pose_and_expression_separately_and_keeps_blinks():
    motion = sample_motion()
    smoothed = result_of(smooth(motion, 0.0, 0.2))
    assert torch.equal(smoothed.expression, motion.expression), "expression smoothing 0 leaves it untouched"
    assert torch.equal(smoothed.eye_closure, motion.eye_closure), "blinks are never smoothed"
    jerk = lambda p: np.abs(np.diff(p.numpy(), 3, axis=0)).mean()  # noqa: E731
    assert jerk(smoothed.pose) < 0.05 * jerk(motion.pose)
    assert abs(smoothed.pose[:, 0].mean() - motion.pose[:, 0].mean()) < 0.005, "smoothing keeps the mean pose"
    both = result_of(smooth(motion, 0.04, 0.0))
    assert torch.equal(both.pose, motion.pose) and not torch.equal(both.expression, motion.expression)
    constant = Motion.still(torch.full((NUM_COMPONENTS,), 0.3), 50, FPS, SPACE_NAME)
    assert torch.allclose(result_of(smooth(constant, 0.5, 0.5)).expression, constant.expression)



def test_scale_expression_about_neutral_and_about_beta_0():
    motion = sample_motion()
    assert torch.allclose(result_of(scale(motion, 2.0, "all")).expression, 2 * motion.expression)
    beta_0 = torch.full((NUM_COMPONENTS,), 0.05)

    class FaceStub:  # the node only reads beta_0
        pass

    face = FaceStub()
    face.beta_0 = beta_0
    zero = result_of(scale(motion, 0.0, "all", face))
    assert torch.allclose(zero.expression, beta_0.expand_as(zero.expression))
    mouth = result_of(scale(motion, 0.5, "mouth"))
    assert torch.allclose(mouth.expression[:, JAW_OPEN], 0.5 * motion.expression[:, JAW_OPEN])
    assert torch.equal(mouth.expression[:, 9:], motion.expression[:, 9:])
    assert torch.equal(mouth.pose, motion.pose) and torch.equal(mouth.eye_closure, motion.eye_closure)
    with pytest.raises(ValueError, match="use 'all'"):
        scale(sample_motion(space="bfm-64"), 1.5, "mouth")


def test_saved_track_loads_back_identical(user_dirs):
    motion = sample_motion(T=333)
    outputs, ui = save(motion, "take1")
    assert outputs[0] is motion
    path = user_dirs["output"] / SUBFOLDER / "take1.safetensors"
    assert path.is_file() and ui["text"] == [f"{SUBFOLDER}/take1.safetensors"]
    choices = track_choices()
    assert "take1.safetensors [output]" in choices
    loaded = result_of(load("take1.safetensors [output]"))
    for field in ("expression", "pose", "eye_closure"):
        assert torch.equal(getattr(loaded, field), getattr(motion, field)), field
    assert loaded.fps == motion.fps and loaded.space == motion.space
    assert NODES["MoDiTLoadMotion"].fingerprint_inputs(track="take1.safetensors [output]") == os.path.getmtime(path)


def test_saving_never_overwrites(user_dirs):
    first, second = sample_motion(seed=1), sample_motion(seed=2)
    save(first, "take")
    _, ui = save(second, "take.safetensors")
    assert ui["text"] == [f"{SUBFOLDER}/take_00001.safetensors"]
    folder = user_dirs["output"] / SUBFOLDER
    assert sorted(os.listdir(folder)) == ["take.safetensors", "take_00001.safetensors"]
    assert torch.equal(result_of(load("take.safetensors [output]")).pose, first.pose)


@pytest.mark.parametrize("name", ["../escape", "..", "a/b", "a\\b", "/etc/passwd", "C:evil", "C:\\x\\y",
                                  "", "   ", ".hidden", "sub/../../x"])
def test_names_that_could_leave_the_folder_are_refused(user_dirs, name):
    with pytest.raises(ValueError, match="plain file name"):
        validate_track_name(name)
    with pytest.raises(ValueError, match="plain file name"):
        save(sample_motion(T=10), name)
    assert NODES["MoDiTSaveMotion"].validate_inputs(filename=name) is not True
    assert not any(user_dirs["output"].rglob("*.safetensors"))


def test_load_refuses_traversal_and_reports_missing_files(user_dirs, tmp_path):
    secret = tmp_path / "secret.safetensors"
    save(sample_motion(T=10), "inside")
    os.replace(user_dirs["output"] / SUBFOLDER / "inside.safetensors", secret)
    with pytest.raises(ValueError, match="plain file name"):
        load("../secret.safetensors [output]")
    with pytest.raises(ValueError, match="plain file name"):
        load("../../secret.safetensors")
    with pytest.raises(FileNotFoundError, match="not found"):
        load("nothing.safetensors [input]")
    assert track_choices() == [NO_FILES]
    with pytest.raises(FileNotFoundError, match="MoDiT Save Motion"):
        load(NO_FILES)


def test_tracks_in_the_input_folder_load(user_dirs):
    from comfyui_modit.modit.motion.track_files import save_motion

    motion = sample_motion(T=40)
    save_motion(motion, "from_input", directory=str(user_dirs["input"]))
    assert "from_input.safetensors [input]" in track_choices()
    assert torch.equal(result_of(load("from_input.safetensors [input]")).expression,
                       motion.expression)


def test_a_foreign_safetensors_file_is_refused_by_name(user_dirs):
    from comfyui_modit.modit.checkpoints import save_checkpoint

    save_checkpoint(str(user_dirs["input"] / "weights.safetensors"), {"w": torch.zeros(2)}, {"architecture": "x"})
    with pytest.raises(ValueError, match="weights.safetensors: not a motion track"):
        load("weights.safetensors [input]")


def test_preview_draws_the_curves(tmp_path):
    motion = sample_motion()
    (image,) = preview(motion, 800, 400)
    assert image.shape == (1, 400, 800, 3) and image.dtype == torch.float32
    assert 0 <= image.min() and image.max() <= 1
    pixels = (image[0].numpy() * 255).round().astype(np.int16)

    def has_colour(rgb):
        return (np.abs(pixels - np.array(rgb)).sum(axis=2) < 30).sum()

    from comfyui_modit.modit.motion.preview import COLOURS
    for name in ("mouth", "left eye", "right eye", "yaw", "pitch", "roll"):
        assert has_colour(COLOURS[name]) > 20, f"no {name} curve drawn"
    # the blink near frame 100 (of 250) reaches the top of the eye panel: eye colour high up in that column
    x = int(56 + (102.5 / 250) * (800 - 68))
    column = np.abs(pixels[:, x - 2:x + 3] - np.array(COLOURS["right eye"])).sum(axis=2).min(axis=1) < 30
    rows = np.nonzero(column)[0]
    eye_panel_top = 8 + (400 - 30) / 3 + 14
    assert rows.size and rows.min() < eye_panel_top + 6
    from PIL import Image
    Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "preview.png")
    (empty,) = preview(Motion.still(torch.zeros(NUM_COMPONENTS), 1, FPS, SPACE_NAME), 256, 192)
    assert empty.shape == (1, 192, 256, 3)
