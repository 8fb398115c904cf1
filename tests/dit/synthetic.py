"""Tiny synthetic corpora and faces for DiT tests: feature channel 5 drives jaw_open, the rest is noise."""
import os

import torch

from comfyui_modit.modit.checkpoints import save_checkpoint
from comfyui_modit.modit.face.components import JAW_OPEN, NUM_COMPONENTS, SPACE_NAME
from comfyui_modit.modit.timing import samples_for_frames
from comfyui_modit.modit.types import AudioFeatures, Face

DRIVER = 5  # the feature channel that carries the "speech"


def speech_envelope(num_frames: int, generator: torch.Generator) -> torch.Tensor:
    """A smooth 0..1 syllable-like envelope: [T] float32."""
    phase = torch.rand(1, generator=generator) * 6.28
    rate = 0.5 + 0.3 * torch.rand(1, generator=generator)  # radians per frame (~2 syllables/s at 25 fps)
    frames = torch.arange(num_frames, dtype=torch.float32)
    return (0.5 + 0.5 * torch.sin(frames * rate + phase)).clamp(0, 1)


def synthetic_utterance(num_frames: int, generator: torch.Generator, dim: int = 80):
    """(features [T, D], expression [T, K]) where jaw_open follows feature channel DRIVER."""
    envelope = speech_envelope(num_frames, generator)
    features = 0.1 * torch.randn(num_frames, dim, generator=generator)
    features[:, DRIVER] = 4.0 * envelope
    expression = torch.zeros(num_frames, NUM_COMPONENTS)
    expression[:, JAW_OPEN] = envelope
    return features, expression


def write_shards(directory, num_shards: int = 2, utterances: int = 6, lengths=(20, 60), seed: int = 0,
                 feature_kind: str = "mel80", dim: int = 80, fp16: bool = True) -> str:
    """A corpus in the exact shard format of modit/train/data.py; returns the directory."""
    os.makedirs(directory, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    for shard in range(num_shards):
        n = torch.randint(lengths[0], lengths[1] + 1, (utterances,), generator=generator)
        pairs = [synthetic_utterance(int(k), generator, dim) for k in n]
        features = torch.cat([f for f, _ in pairs])
        save_checkpoint(os.path.join(directory, f"shard_{shard:03d}.safetensors"),
                        {"features": features.half() if fp16 else features, "expression": torch.cat([e for _, e in pairs]),
                         "beta_0": torch.zeros(utterances, NUM_COMPONENTS), "lengths": n.long()},
                        {"feature_kind": feature_kind, "feature_dim": dim, "fps": 25, "space": SPACE_NAME})
    return str(directory)


def audio_features(num_frames: int, seed: int = 0, kind: str = "mel80", dim: int = 80, fps: float = 25.0):
    generator = torch.Generator().manual_seed(seed)
    features, _ = synthetic_utterance(num_frames, generator, dim)
    sample_rate = 16000
    samples = samples_for_frames(num_frames, sample_rate, fps)
    return AudioFeatures(features=features, fps=fps, kind=kind, waveform=torch.zeros(samples), sample_rate=sample_rate)


def face(space: str = SPACE_NAME, k: int = NUM_COMPONENTS) -> Face:
    return Face(image=torch.zeros(64, 64, 3), crop=torch.zeros(32, 32, 3),
                crop_to_image=torch.eye(2, 3, dtype=torch.float64), landmarks=torch.zeros(468, 3),
                iris=torch.zeros(2, 5, 3), pose=torch.zeros(6), beta_0=torch.zeros(k), eye_openness=torch.ones(2),
                neutral_mesh=torch.zeros(468, 3), space=space)
