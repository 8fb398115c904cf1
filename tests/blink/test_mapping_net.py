"""The blink mapping net (paper Fig. 4): starts still, overfits a tiny set, and its checkpoints round-trip."""
import numpy as np
import pytest
import torch

from comfyui_modit.modit.blink.blink_sequence import blink_sequence
from comfyui_modit.modit.blink.mapping_net import (BlinkMappingModel, BlinkMappingNet, MappingNetConfig,
                                                   mapping_tiny, save_mapping_net, sequence_windows)
from comfyui_modit.modit.checkpoints import save_checkpoint
from comfyui_modit.modit.motion.filters import gaussian_smooth
from comfyui_modit.modit.train.blink_training import BlinkTrainingConfig, train_mapping_net
from comfyui_modit.modit.types import Motion

FPS = 25.0


def synthetic_track(seed: int, T: int = 300) -> Motion:
    """Pose that depends on the expression window and the blinks, as the net is meant to learn."""
    rng = np.random.default_rng(seed)
    expression = torch.tensor(gaussian_smooth(rng.standard_normal((T, 12)), 2.0), dtype=torch.float32)  # [T, 12]
    blink = blink_sequence(T, FPS, seed=seed)
    pose = torch.zeros(T, 6)
    pose[:, 0] = 0.08 * torch.tanh(2 * expression[:, 0])
    pose[:, 1] = -0.05 * blink.mean(dim=1) + 0.04 * expression[:, 1]
    pose[:, 2] = 0.03 * expression[:, 2]
    pose[:, 3:] = 0.02 * expression[:, 3:6]
    return Motion(expression, pose, blink, FPS, "embedded-v1")


def test_untrained_net_keeps_the_source_pose():
    net = BlinkMappingNet(mapping_tiny())
    pose = net(torch.randn(4, 21, 12), torch.rand(4, 21, 2))
    assert pose.shape == (4, 6) and pose.abs().sum() == 0


def test_windows_are_centred_and_edge_extended():
    sequence = torch.arange(5.0).reshape(5, 1)
    windows = sequence_windows(sequence, 3)  # [5, 3, 1]
    assert windows[:, :, 0].tolist() == [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 4]]


def test_window_too_short_for_the_blocks_is_refused():
    with pytest.raises(ValueError, match="too short"):
        MappingNetConfig(window=9, num_blocks=3)


def test_training_overfits_a_tiny_synthetic_set():
    tracks = [synthetic_track(0), synthetic_track(1)]
    net, history = train_mapping_net(tracks, mapping_tiny(),
                                     BlinkTrainingConfig(steps=200, batch_size=32, learning_rate=5e-3, log_every=0))
    assert np.mean(history[-20:]) < 0.05 * np.mean(history[:5])
    model = BlinkMappingModel(net, "embedded-v1", FPS)
    for track in tracks:
        predicted = model.predict_pose(track.expression, track.eye_closure)
        explained = 1 - (predicted - track.pose).pow(2).mean(0) / track.pose.var(0)
        assert (explained > 0.9).all(), f"explained variance per channel {explained}"


def test_checkpoint_round_trip_and_wrong_files(tmp_path):
    net = BlinkMappingNet(mapping_tiny())
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
    path = str(tmp_path / "blink.safetensors")
    save_mapping_net(path, net, "embedded-v1", FPS)
    model = BlinkMappingModel.from_file(path)
    x, b = torch.randn(50, 12), torch.rand(50, 2)
    expected = torch.stack([net(w[None], v[None])[0] for w, v in zip(sequence_windows(x, 21), sequence_windows(b, 21))])
    assert torch.allclose(model.predict_pose(x, b), expected.detach(), atol=1e-6)

    other = str(tmp_path / "other.safetensors")
    save_checkpoint(other, {"w": torch.zeros(1)}, {"architecture": "modit-dit"})
    with pytest.raises(ValueError, match=r"other.safetensors: not a blink mapping-net checkpoint"):
        BlinkMappingModel.from_file(other)
    with pytest.raises(ValueError, match=r"expects expression \[T, 12\]"):
        model.predict_pose(torch.zeros(10, 64), torch.zeros(10, 2))


def test_training_cli_writes_a_loadable_checkpoint(tmp_path):
    from comfyui_modit.modit.motion.track_files import save_motion
    from comfyui_modit.modit_app.train_blink import main

    save_motion(synthetic_track(2, T=120), "train_a", directory=str(tmp_path / "tracks"))
    out = str(tmp_path / "blink_cli.safetensors")
    main(["--tracks", str(tmp_path / "tracks"), "--out", out, "--preset", "tiny", "--steps", "5",
          "--batch-size", "4", "--device", "cpu"])
    model = BlinkMappingModel.from_file(out)
    assert model.space == "embedded-v1" and model.net.config == mapping_tiny()
