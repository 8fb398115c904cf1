"""Fixtures for the Wav2Lip tests: checkpoints in the public layout, a synthetic face, audio features."""
import math
import os

import pytest
import torch

from comfyui_modit.modit.types import AudioFeatures, Face
from comfyui_modit.modit.timing import samples_for_frames
from comfyui_modit.modit.wav2lip.face_crop import FACE_OVAL
from comfyui_modit.modit.wav2lip.network import Wav2Lip

KEY_LISTING = os.path.join(os.path.dirname(__file__), "data", "wav2lip_state_dict_keys.txt")


def _published_shapes() -> dict[str, tuple]:
    """{key: shape} from the published key listing of the Wav2Lip generator, in file order."""
    with open(KEY_LISTING) as f:
        lines = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")]
    shapes = {}
    for line in lines:
        key, shape = line.split("\t")
        shapes[key] = tuple(int(d) for d in shape.strip("()").split(",") if d.strip())
    return shapes


@pytest.fixture(scope="session")
def random_state_dict():
    """Random weights in exactly the public key layout (no prefix), with non-trivial BatchNorm statistics.

    The audio path's BatchNorm gains are raised so the output visibly depends on the mel window (at PyTorch's
    default init the audio signal fades away and every window would give the same face).
    """
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    state_dict = Wav2Lip().state_dict()
    for key, value in state_dict.items():
        if key.endswith("running_mean"):
            state_dict[key] = torch.randn(value.shape, generator=generator) * 0.1
        elif key.endswith("running_var"):
            state_dict[key] = torch.rand(value.shape, generator=generator) + 0.5
        elif key.endswith("num_batches_tracked"):
            state_dict[key] = torch.tensor(1000)
        elif key.startswith("audio_encoder.") and key.endswith("conv_block.1.weight"):
            state_dict[key] = value * 3
    state_dict["face_decoder_blocks.0.0.conv_block.1.weight"] *= 30
    return state_dict


@pytest.fixture(scope="session")
def random_network(random_state_dict):
    """A Wav2Lip in eval mode with random_state_dict's weights (shared: tests must not change it)."""
    network = Wav2Lip()
    network.load_state_dict(random_state_dict)
    return network.eval().requires_grad_(False)


@pytest.fixture(scope="session")
def public_pth(random_state_dict, tmp_path_factory):
    """A .pth laid out like the released wav2lip.pth: a training snapshot with 'module.'-prefixed keys."""
    path = tmp_path_factory.mktemp("ckpt") / "wav2lip_gan.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in random_state_dict.items()},
                "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1, 2]}]},
                "global_step": 231000, "global_epoch": 12}, path)
    return path


def _make_face(size: int = 128) -> Face:
    """A synthetic analysed face: a coloured crop with a 'mouth', the face oval on an ellipse around the centre."""
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                          indexing="ij")
    crop = torch.stack([0.3 + 0.5 * x / size, 0.2 + 0.3 * y / size, torch.full_like(x, 0.6)], dim=-1)
    mouth = ((x - size / 2) / (size * 0.15)) ** 2 + ((y - size * 0.72) / (size * 0.05)) ** 2 < 1
    crop[mouth] = torch.tensor([0.8, 0.1, 0.1])
    generator = torch.Generator().manual_seed(1)
    # inner points strictly inside the oval, oval points on an ellipse centred at (0.5, 0.5), radii 0.3 x 0.4
    landmarks = torch.cat([size * (0.35 + 0.3 * torch.rand(468, 2, generator=generator)), torch.zeros(468, 1)], 1)
    for i, index in enumerate(FACE_OVAL):
        angle = 2 * math.pi * i / len(FACE_OVAL)
        landmarks[index, 0] = size * (0.5 + 0.3 * math.sin(angle))
        landmarks[index, 1] = size * (0.5 - 0.4 * math.cos(angle))
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64)
    return Face(image=crop.clone(), crop=crop, crop_to_image=identity,
                landmarks=landmarks, iris=torch.zeros(2, 5, 3), pose=torch.zeros(6), beta_0=torch.zeros(12),
                eye_openness=torch.ones(2), neutral_mesh=landmarks.clone(), space="embedded-v1")


def _make_audio(num_frames: int, fps: float = 25.0, kind: str = "mel80", dim: int = 80, seed: int = 2) -> AudioFeatures:
    """Audio features for num_frames frames with a 16 kHz waveform of exactly the aligned length (speech-like noise)."""
    generator = torch.Generator().manual_seed(seed)
    samples = samples_for_frames(num_frames, 16000, fps)
    t = torch.arange(samples) / 16000
    waveform = 0.3 * torch.sin(2 * math.pi * 220 * t) * (0.5 + 0.5 * torch.sin(2 * math.pi * 3 * t))
    waveform = waveform + 0.02 * torch.randn(samples, generator=generator)
    return AudioFeatures(features=torch.randn(num_frames, dim, generator=generator), fps=fps, kind=kind,
                         waveform=waveform.float(), sample_rate=16000)


@pytest.fixture
def published_shapes():
    return _published_shapes()


@pytest.fixture
def make_face():
    return _make_face


@pytest.fixture
def make_audio():
    return _make_audio
