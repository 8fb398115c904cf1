"""The learned mouth (issue 15 item 4): shapes, a crop that follows the lips, no change without lip motion, changes
only around the lips, weights that load (or fail by name), determinism, and the training loss."""
import pytest
import torch

from comfyui_modit.modit.checkpoints import save_checkpoint
from comfyui_modit.modit.render import mouth_net
from comfyui_modit.modit.render.mouth_net import CROP, SPAN, MouthNet, MouthRefiner
from comfyui_modit.modit.render.renderer import RenderOptions, render_frames
from comfyui_modit.modit.types import Motion
from comfyui_modit.modit_app import train_mouth

from .astronaut import make_face

JAW = 0


def noisy_net(seed: int = 0) -> MouthNet:
    """A net whose residual is not zero (the trained one's last layer is not either)."""
    torch.manual_seed(seed)
    net = MouthNet()
    torch.nn.init.normal_(net.out.weight, std=0.05)
    torch.nn.init.normal_(net.out.bias, std=0.05)
    return net


def jaw_motion(face, jaw) -> Motion:
    jaw = torch.as_tensor(jaw, dtype=torch.float32)
    expression = face.beta_0.float().repeat(len(jaw), 1)
    expression[:, JAW] += jaw
    T = len(jaw)
    return Motion(expression=expression, pose=torch.zeros(T, 6), eye_closure=torch.zeros(T, 2), fps=25.0,
                  space=face.space)


def test_net_shapes_and_untrained_is_identity():
    net = MouthNet()
    x = torch.rand(2, mouth_net.IN_CHANNELS, CROP, CROP)
    with torch.no_grad():
        out = net(x)
    assert out.shape == (2, 3, CROP, CROP)
    assert float(out.abs().max()) == 0.0  # the last layer starts at zero: an untrained net changes nothing
    assert sum(p.numel() for p in net.parameters()) * 2 < 2 * 1024 * 1024  # float16 weights under 2 MB


def test_crop_follows_the_lips():
    # A mouth 40 px wide centred at (100, 80), tilted by 20 degrees.
    angle = torch.tensor(0.35)
    ex = torch.stack([angle.cos(), angle.sin()])
    ey = torch.stack([-ex[1], ex[0]])
    t = torch.linspace(-1, 1, 11)
    upper = torch.tensor([100.0, 80.0]) + 20 * t[:, None] * ex - (6 * (1 - t ** 2))[:, None] * ey
    lower = torch.tensor([100.0, 80.0]) + 20 * t[:, None] * ex + (8 * (1 - t ** 2))[:, None] * ey
    outer = torch.cat([upper, lower])[None]
    affine = mouth_net.crop_affine(outer)
    corners = mouth_net.to_crop(affine, torch.stack([upper[0], upper[-1]])[None])[0]
    half = CROP / 2
    assert torch.allclose(corners[:, 1], torch.full((2,), half), atol=1.5)  # the corners on the middle row
    assert torch.allclose(corners[:, 0], torch.tensor([half - CROP / (2 * SPAN), half + CROP / (2 * SPAN)]),
                          atol=1.5)
    # Mirrored corner order gives the same crop (left to right on the image either way).
    flipped = mouth_net.crop_affine(torch.cat([upper.flip(0), lower.flip(0)])[None])
    assert torch.allclose(flipped, affine, atol=1e-4)
    opening, lips, paste = mouth_net.crop_masks(affine, torch.cat([upper, lower[1:-1].flip(0)])[None],
                                                torch.cat([upper, lower[1:-1].flip(0)])[None])
    assert float(paste[0, CROP // 2, CROP // 2]) == 1.0 and float(paste[0, 0, 0]) == 0.0
    assert float(paste.sum()) > float(lips.sum())  # the paste mask reaches a feather beyond the lips


def test_gate_is_zero_without_lip_motion():
    still = torch.rand(44, 2) * 100
    assert float(mouth_net.lip_gate(still[None], still)[0]) == 0.0
    moved = still.clone()
    moved[5, 1] += 3.0
    assert float(mouth_net.lip_gate(moved[None], still)[0]) == 1.0


@pytest.fixture(scope="module")
def face():
    return make_face(384)


def test_zero_motion_is_the_source_and_motion_changes_only_the_mouth(face):
    refiner = MouthRefiner(noisy_net())
    motion = jaw_motion(face, [0.0, 0.8])
    plain, _ = render_frames(face, motion, RenderOptions())
    learned, _ = render_frames(face, motion, RenderOptions(mouth_net=refiner))
    assert torch.equal(learned[0], plain[0])  # zero motion: the net is not applied at all
    changed = (learned[1] - plain[1]).abs().amax(-1) > 1e-4
    assert changed.any()
    ys, xs = torch.nonzero(changed, as_tuple=True)
    from comfyui_modit.modit.face.analysis import image_landmarks

    lips = image_landmarks(face)[[61, 291, 0, 17], :2]  # corners, top of the upper lip, bottom of the lower
    width = float((lips[0] - lips[1]).norm())
    centre = lips.mean(0)
    # Only pixels within the crop around the (driven) lips change; nothing near the eyes.
    assert float((xs.float() + 0.5 - centre[0]).abs().max()) < SPAN / 2 * width * 1.3
    assert float(ys.float().min() + 0.5) > float(image_landmarks(face)[[33, 263], 1].max())


def test_weights_round_trip_and_determinism(tmp_path, face):
    net = noisy_net(1)
    path = str(tmp_path / "mouth.safetensors")
    save_checkpoint(path, {k: v.half() for k, v in net.state_dict().items()}, {"crop": CROP, "license": "x"})
    loaded = MouthRefiner.load(path)
    assert loaded.metadata["license"] == "x"
    x = torch.rand(1, mouth_net.IN_CHANNELS, CROP, CROP)
    with torch.no_grad():
        assert torch.allclose(loaded.net(x), net.half().float()(x), atol=1e-5)
    motion = jaw_motion(face, [0.6])
    a, _ = render_frames(face, motion, RenderOptions(mouth_net=loaded))
    b, _ = render_frames(face, motion, RenderOptions(mouth_net=loaded))
    assert torch.equal(a, b)


def test_wrong_weights_fail_by_name(tmp_path):
    path = str(tmp_path / "other.safetensors")
    save_checkpoint(path, {"w": torch.zeros(3)}, {})
    with pytest.raises(ValueError, match="other.safetensors.*mouth net"):
        MouthRefiner.load(path)


def test_loss_and_evaluation():
    B, N = 3, CROP
    crops = {k: torch.randint(0, 256, (B, N, N, 3), dtype=torch.uint8) for k in train_mouth.IMAGES}
    crops.update({k: torch.full((B, N, N), 255, dtype=torch.uint8) for k in train_mouth.MASKS})
    crops["gate"] = torch.ones(B)
    batch = train_mouth.batch_tensors(crops, torch.arange(B))
    assert float(train_mouth.mouth_loss(batch["target"], batch["target"], batch["paste"])) == 0.0
    assert float(train_mouth.mouth_loss(batch["render"], batch["target"], batch["paste"])) > 0.1
    figures = train_mouth.evaluate(MouthNet(), crops)
    assert figures["learned"] == pytest.approx(figures["procedural"])  # an untrained net is the procedural mouth
    augmented = train_mouth.batch_tensors(crops, torch.arange(B), torch.Generator().manual_seed(0))
    assert augmented["render"].shape == (B, N, N, 3) and float(augmented["render"].max()) <= 1.0


def test_adversarial_training_judges_the_mouth_only():
    """The critic scores patches of the crop, and the real example it sees is the render with the real mouth inside
    the paste mask: outside it real and refined are the same pixels, so it can only judge the mouth."""
    B, N = 2, CROP
    crops = {k: torch.randint(0, 256, (B, N, N, 3), dtype=torch.uint8) for k in train_mouth.IMAGES}
    paste = torch.zeros(B, N, N, dtype=torch.uint8)
    paste[:, N // 4:3 * N // 4, N // 4:3 * N // 4] = 255
    crops.update({"opening": paste.clone(), "lips": paste.clone(), "paste": paste, "gate": torch.ones(B)})
    batch = train_mouth.batch_tensors(crops, torch.arange(B))
    real = train_mouth.real_composite(batch)
    outside = batch["paste"] == 0
    assert torch.equal(real[outside], batch["render"][outside])
    assert torch.allclose(real[batch["paste"] == 1], batch["target"][batch["paste"] == 1])
    scores = train_mouth.PatchCritic()(real, batch)
    assert scores.shape == (B, 1, N // 8, N // 8)
    weight = train_mouth.critic_weight(batch, scores.shape[-1])
    assert float(weight[:, :, 0, 0].max()) == 0 and float(weight.max()) == 1  # corner patches do not count


def test_render_node_option_falls_back_without_weights(monkeypatch, caplog, tmp_path):
    from comfyui_modit.nodes import render as render_node

    monkeypatch.setattr(mouth_net, "find_weights", lambda: None)
    with caplog.at_level("WARNING"):
        options = render_node._options("source", 0.5, render_node.LEARNED_MOUTH, 128)
    assert options.mouth_net is None and options.mouth_style == "cavity"
    assert "procedural mouth" in caplog.text and mouth_net.WEIGHTS_FILE in caplog.text
    path = str(tmp_path / mouth_net.WEIGHTS_FILE)
    save_checkpoint(path, MouthNet().state_dict(), {"license": "research use only"})
    monkeypatch.setattr(mouth_net, "find_weights", lambda: path)
    options = render_node._options("source", 0.5, render_node.LEARNED_MOUTH, 128)
    assert isinstance(options.mouth_net, MouthRefiner) and options.mouth_style == "cavity"
    assert render_node._options("source", 0.5, "cavity", 128).mouth_net is None
    with pytest.raises(ValueError, match="mouth_style"):
        render_node._options("source", 0.5, "learned", 128)
