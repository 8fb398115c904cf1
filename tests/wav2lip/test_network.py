"""Our Wav2Lip has the public checkpoints' exact parameter layout and the published data flow."""
import os

import torch

from comfyui_modit.modit.wav2lip.network import Wav2Lip

KEY_LISTING = os.path.join(os.path.dirname(__file__), "data", "wav2lip_state_dict_keys.txt")


def test_state_dict_matches_published_listing_exactly(published_shapes):
    ours = {k: tuple(v.shape) for k, v in Wav2Lip().state_dict().items()}
    published = published_shapes
    assert len(published) == 352
    assert list(ours) == list(published), "key names or order differ from the public checkpoints"
    assert ours == published


def test_parameter_count_matches_listing_header():
    with open(KEY_LISTING) as f:
        header = f.readline()
    count = sum(p.numel() for p in Wav2Lip().parameters())
    assert f"{count} params" in header, (count, header)


def test_forward_shapes_and_range(random_network):
    network = random_network
    with torch.no_grad():
        out = network(torch.randn(2, 1, 80, 16), torch.rand(2, 6, 96, 96))
    assert out.shape == (2, 3, 96, 96)
    assert out.min() >= 0 and out.max() <= 1  # sigmoid output, BGR 0..1


def test_encode_once_then_decode_equals_forward(random_network):
    """The still-face shortcut (face encoder once, skips broadcast over mel windows) is exact."""
    torch.manual_seed(0)
    network = random_network
    face = torch.rand(1, 6, 96, 96)
    mel = torch.randn(2, 1, 80, 16)
    with torch.no_grad():
        shortcut = network.decode(mel, network.encode_face(face))
        plain = network(mel, face.expand(2, -1, -1, -1))
    torch.testing.assert_close(shortcut, plain, rtol=1e-4, atol=1e-5)


def test_five_dimensional_input_folds_time_into_batch(random_network):
    torch.manual_seed(0)
    network = random_network
    face = torch.rand(1, 6, 2, 96, 96)  # [B, C, T, H, W]
    mel = torch.randn(1, 2, 1, 80, 16)  # [B, T, 1, 80, 16]
    with torch.no_grad():
        out = network(mel, face)
        frame_1 = network(mel[:, 1], face[:, :, 1])
    assert out.shape == (1, 3, 2, 96, 96)
    torch.testing.assert_close(out[:, :, 1], frame_1, rtol=1e-4, atol=1e-5)
