"""DiT checkpoint files: safetensors weights + metadata that says how to rebuild and use the network.

Metadata keys (JSON values, written by modit.checkpoints.save_checkpoint):
  architecture     "modit-dit"
  preset           the PRESETS name the network was built from ("embedded", "paper", ...)
  config           DiTConfig fields (the loader builds from these, so a tuned preset still loads)
  space            expression space of the targets, e.g. "embedded-v1"
  feature_kind     audio feature kind the network was trained on, e.g. "mel80"
  feature_dim      D of those features
  fps              frame rate of features and expressions
  num_train_steps  optimiser steps the weights were trained for (the schedule's step count is in "schedule")
  schedule         ScheduleConfig fields (number of diffusion steps, beta schedule)
  bias             Algorithm 1 defaults used in training: {"phase_threshold", "width", "spread"}
"""
import os
from dataclasses import dataclass, field

import torch

from ..checkpoints import check_state_dict, load_checkpoint, save_checkpoint, strip_prefix
from .bias_injection import DEFAULT_SPREAD, DEFAULT_WIDTH
from .model import MoDiT
from .presets import DiTConfig
from .schedule import ScheduleConfig

ARCHITECTURE = "modit-dit"
DEFAULT_PHASE_THRESHOLD = 500  # t_T used in training when none is given (half of 1000 diffusion steps)


@dataclass(frozen=True)
class DiTInfo:
    """What a DiT checkpoint promises about its inputs and outputs."""

    preset: str
    config: DiTConfig
    space: str
    feature_kind: str
    fps: float
    schedule: ScheduleConfig = ScheduleConfig()
    bias: dict = field(default_factory=lambda: {"phase_threshold": DEFAULT_PHASE_THRESHOLD,
                                                 "width": DEFAULT_WIDTH, "spread": DEFAULT_SPREAD})
    num_train_steps: int = 0

    @property
    def feature_dim(self) -> int:
        return self.config.feature_dim

    def to_metadata(self) -> dict:
        return {"architecture": ARCHITECTURE, "preset": self.preset, "config": self.config.to_dict(),
                "space": self.space, "feature_kind": self.feature_kind, "feature_dim": self.feature_dim,
                "fps": self.fps, "num_train_steps": int(self.num_train_steps),
                "schedule": self.schedule.to_dict(), "bias": dict(self.bias)}

    @classmethod
    def from_metadata(cls, metadata: dict, name: str) -> "DiTInfo":
        if metadata.get("architecture") != ARCHITECTURE:
            raise ValueError(f"{name}: not a MoDiT DiT checkpoint: expected metadata architecture "
                             f"{ARCHITECTURE!r}, found {metadata.get('architecture')!r}; train one with "
                             f"`python -m modit_app train` or pick another file")
        missing = [k for k in ("preset", "config", "space", "feature_kind", "fps", "schedule") if k not in metadata]
        if missing:
            raise ValueError(f"{name}: DiT checkpoint metadata lacks {missing}; the file is incomplete, re-save it")
        config = DiTConfig.from_dict(metadata["config"])
        if int(metadata.get("feature_dim", config.feature_dim)) != config.feature_dim:
            raise ValueError(f"{name}: metadata feature_dim {metadata['feature_dim']} disagrees with config "
                             f"feature_dim {config.feature_dim}; the file is inconsistent")
        return cls(preset=metadata["preset"], config=config, space=metadata["space"],
                   feature_kind=metadata["feature_kind"], fps=float(metadata["fps"]),
                   schedule=ScheduleConfig.from_dict(metadata["schedule"]),
                   bias=metadata.get("bias") or cls.__dataclass_fields__["bias"].default_factory(),
                   num_train_steps=int(metadata.get("num_train_steps", 0)))


def save_dit(path: str, model: MoDiT, info: DiTInfo) -> None:
    """Write the network's weights (and data statistics) with `info` as metadata."""
    state = {k: v.float() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    save_checkpoint(path, state, info.to_metadata())


def load_dit(path: str, device: str | torch.device = "cpu") -> tuple[MoDiT, DiTInfo]:
    """Build the network the metadata describes, check every key and shape, load the weights (eval mode)."""
    name = os.path.basename(path)
    state_dict, metadata = load_checkpoint(path)
    info = DiTInfo.from_metadata(metadata, name)
    model = MoDiT(info.config)
    state_dict = strip_prefix(strip_prefix(state_dict, "module."), "_orig_mod.")
    expected = {k: v.shape for k, v in model.state_dict().items()}
    check_state_dict(state_dict, expected, name, f"MoDiT DiT ({info.preset})",
                     "the weights do not match the config in the file's metadata; re-export the checkpoint")
    model.load_state_dict({k: v.float() for k, v in state_dict.items()})
    return model.to(device).eval(), info
