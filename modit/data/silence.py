"""Silent utterances for training (issue 14): when nobody speaks, the face stays the source's own.

The real clips hold few pauses longer than a second, and none at the start of an utterance, so a DiT fine-tuned on
them alone never sees "no speech" beside a source that smiles or holds its mouth open: the first v3 run drifted such
a source on 3 s of silence (jaw_open 0.32 -> 0.17, corners_up 0.5 -> 0.34, lip_stretch 0.2 -> 0.41). A silence
shard pairs silence-like audio (digital zero, or white noise at SILENCE_DBFS), featurised through the encoder's own
path like any recording, with an expression that stays at beta_0 throughout. The sources are real: expressions of
random frames of the real shards (mid-word, smiling, at rest), so the rule is learned for faces as they come.
"""
import glob
import os

import numpy as np
import torch

from ..audio.resample import TARGET_RATE as SAMPLE_RATE  # the silence is written at the features' own 16 kHz
from ..checkpoints import load_checkpoint, save_checkpoint
from .extract import audio_features

SILENCE_DBFS = (-75.0, -40.0)  # room-noise levels drawn uniformly in dB; a quarter of the utterances are exactly 0


def real_sources(directory: str, count: int, generator: np.random.Generator) -> tuple[torch.Tensor, dict]:
    """([count, K] expressions of random kept frames of the shards in `directory`, the first shard's metadata)."""
    shards = [load_checkpoint(p) for p in sorted(glob.glob(os.path.join(directory, "*.safetensors")))]
    if not shards:
        raise FileNotFoundError(f"{directory}: no shards to take source expressions from")
    pool = torch.cat([tensors["expression"].float() for tensors, _ in shards])
    return pool[torch.from_numpy(generator.choice(pool.shape[0], count, replace=False))], shards[0][1]


def silence_audio(seconds: float, generator: np.random.Generator) -> np.ndarray:
    """Digital silence (a quarter of the time) or white noise at a random level in SILENCE_DBFS."""
    n = int(seconds * SAMPLE_RATE)
    if generator.random() < 0.25:
        return np.zeros(n, np.float32)
    rms = 10 ** (generator.uniform(*SILENCE_DBFS) / 20)
    return (rms * generator.standard_normal(n)).astype(np.float32)


def write_silence_shard(like: str, out_path: str, encoder, count: int = 64, seconds: float = 4.0, fps: float = 25.0,
                        seed: int = 0) -> dict:
    """One shard of `count` silent utterances of `seconds`, sources from the shards in `like`; metadata as theirs."""
    generator = np.random.default_rng(seed)
    sources, metadata = real_sources(like, count, generator)
    frames = int(round(seconds * fps))
    features = torch.cat([audio_features(silence_audio(seconds, generator), SAMPLE_RATE, frames, fps, encoder)
                          for _ in range(count)])
    tensors = {"features": features, "expression": sources.repeat_interleave(frames, 0), "beta_0": sources,
               "lengths": torch.full((count,), frames, dtype=torch.int64)}
    meta = {"feature_kind": encoder.kind, "feature_dim": int(features.shape[1]), "fps": metadata["fps"],
            "space": metadata["space"], "source_file": "silence (modit.data.silence)", "sources_from": like,
            "terms": metadata.get("terms", ""), "silence_dbfs": list(SILENCE_DBFS), "seed": seed}
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    save_checkpoint(out_path, tensors, meta)
    return {"utterances": count, "frames": count * frames}
