"""The blink mapping net of paper §3.4.4 (Figure 4): blink sequence + expression window -> head pose.

Notation (code -> paper):
    expression [B, W, K]   -> the window of expression coefficients beta around frame t
    blink [B, W, 2]        -> the blink sequence: degree of eye closure per frame (left, right eye)
    blink_embedding        -> the learnable lift of the blink sequence into the feature space, where it is
                              fused (added) with the encoded expression window
    blocks (N of them)     -> "conv + LeakyReLU blocks iterated N times" (dilated, residual, valid padding:
                              each block narrows the window, so the last features see all W frames)
    heads.yaw/pitch/roll/translation -> the FC heads; pose [B, 6] for the window's centre frame

The heads start at zero (as adaLN-Zero in DiT), so an untrained net predicts the source pose: a still head,
never a random jitter. Outputs are scaled by POSE_SCALE so the network works in units of about one.
"""
import logging
import os
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import comfy_adapter
from ..checkpoints import check_state_dict, load_checkpoint, save_checkpoint

log = logging.getLogger(__name__)

ARCHITECTURE = "modit-blink-mapping"
POSE_SCALE = (0.1, 0.1, 0.1, 0.05, 0.05, 0.05)  # radians for yaw/pitch/roll, crop units / log scale for t


@dataclass(frozen=True)
class MappingNetConfig:
    """Shape of the mapping net; a checkpoint's metadata stores these fields and the loader rebuilds from them."""

    num_coefficients: int = 12  # K of the expression space (embedded-v1 has 12)
    window: int = 27  # W frames seen per prediction, centred on the predicted frame (odd)
    hidden: int = 128  # feature channels
    num_blocks: int = 3  # N: conv + LeakyReLU iterations
    first_kernel: int = 7
    block_kernel: int = 3
    block_dilation: int = 3
    leaky_slope: float = 0.1

    def __post_init__(self):
        if self.window % 2 != 1:
            raise ValueError(f"mapping net window must be odd (centred on its frame), got {self.window}")
        remaining = self.window - (self.first_kernel - 1) - self.num_blocks * (self.block_kernel - 1) * self.block_dilation
        if remaining < 1:
            raise ValueError(f"mapping net window {self.window} is too short for {self.num_blocks} blocks; "
                             f"use a window of at least {self.window - remaining + 1}")


def mapping_tiny(**kwargs) -> MappingNetConfig:
    return MappingNetConfig(hidden=32, num_blocks=2, window=21, **kwargs)


def mapping_base(**kwargs) -> MappingNetConfig:
    return MappingNetConfig(**kwargs)


PRESETS = {"tiny": mapping_tiny, "base": mapping_base}


class BlinkMappingNet(nn.Module):
    """Expression window + blink sequence -> pose of the centre frame (Figure 4)."""

    def __init__(self, config: MappingNetConfig):
        super().__init__()
        self.config = config
        H = config.hidden
        self.expression_encoder = nn.Conv1d(config.num_coefficients, H, config.first_kernel)
        self.blink_embedding = nn.Conv1d(2, H, config.first_kernel)
        self.blocks = nn.ModuleList(
            nn.Conv1d(H, H, config.block_kernel, dilation=config.block_dilation) for _ in range(config.num_blocks))
        self.heads = nn.ModuleDict({"yaw": nn.Linear(H, 1), "pitch": nn.Linear(H, 1), "roll": nn.Linear(H, 1),
                                    "translation": nn.Linear(H, 3)})
        for head in self.heads.values():  # start as "keep the source pose"; see the module docstring
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.register_buffer("pose_scale", torch.tensor(POSE_SCALE), persistent=False)

    def forward(self, expression: torch.Tensor, blink: torch.Tensor) -> torch.Tensor:
        """expression: [B, W, K], blink: [B, W, 2] closure 0..1 -> pose [B, 6] (yaw, pitch, roll, tx, ty, tz)."""
        x = self.expression_encoder(expression.transpose(1, 2))  # [B, H, W']
        x = x + self.blink_embedding(blink.transpose(1, 2))  # fuse the blink sequence: [B, H, W']
        trim = (self.config.block_kernel - 1) * self.config.block_dilation // 2
        for block in self.blocks:
            y = block(F.leaky_relu(x, self.config.leaky_slope))  # [B, H, W' - 2 * trim]
            x = x[:, :, trim:x.shape[2] - trim] + y  # residual on the centre part that the conv kept
        features = F.leaky_relu(x, self.config.leaky_slope).mean(dim=2)  # [B, H]
        pose = torch.cat([self.heads["yaw"](features), self.heads["pitch"](features),
                          self.heads["roll"](features), self.heads["translation"](features)], dim=1)  # [B, 6]
        return pose * self.pose_scale


def sequence_windows(sequence: torch.Tensor, window: int) -> torch.Tensor:
    """One centred window per frame, edges extended by their end values: [T, C] -> [T, W, C]."""
    half = window // 2
    padded = torch.cat([sequence[:1].expand(half, -1), sequence, sequence[-1:].expand(half, -1)])  # [T + 2h, C]
    return padded.unfold(0, window, 1).transpose(1, 2)  # [T, W, C]


def expected_keys(config: MappingNetConfig) -> dict:
    return {k: tuple(v.shape) for k, v in BlinkMappingNet(config).state_dict().items()}


def save_mapping_net(path: str, net: BlinkMappingNet, space: str, fps: float, extra: dict | None = None) -> None:
    """Write a mapping-net checkpoint (safetensors) with the metadata the loader needs."""
    metadata = {"architecture": ARCHITECTURE, "config": asdict(net.config), "space": space, "fps": fps}
    metadata.update(extra or {})
    save_checkpoint(path, net.state_dict(), metadata)


class BlinkMappingModel:
    """Handle for a loaded mapping net: the node calls predict_pose, never the module."""

    def __init__(self, net: BlinkMappingNet, space: str, fps: float, name: str = "mapping net"):
        self.net = net.eval()
        self.space = space
        self.fps = fps
        self.name = name
        self.patcher = comfy_adapter.make_patcher(net)

    @classmethod
    def from_file(cls, path: str) -> "BlinkMappingModel":
        """Load a checkpoint written by save_mapping_net; ValueError naming the file if it is something else."""
        name = os.path.basename(path)
        state_dict, metadata = load_checkpoint(path)
        if metadata.get("architecture") != ARCHITECTURE:
            raise ValueError(f"{name}: not a blink mapping-net checkpoint: expected metadata architecture "
                             f"{ARCHITECTURE!r}, found {metadata.get('architecture')!r}; train one with "
                             f"python -m modit_app train-blink or pick 'statistical'")
        try:
            config = MappingNetConfig(**metadata["config"])
        except (KeyError, TypeError) as error:
            raise ValueError(f"{name}: blink mapping-net metadata has no usable 'config' ({error})") from error
        check_state_dict(state_dict, expected_keys(config), name, "blink mapping-net")
        net = BlinkMappingNet(config)
        net.load_state_dict(state_dict)
        return cls(net, str(metadata.get("space", "")), float(metadata.get("fps", 25.0)), name)

    @torch.no_grad()
    def predict_pose(self, expression: torch.Tensor, blink: torch.Tensor, chunk_frames: int = 2048) -> torch.Tensor:
        """Pose offsets [T, 6] float32 (CPU) from expression [T, K] and eye closure [T, 2], in chunks of frames."""
        K = self.net.config.num_coefficients
        if expression.ndim != 2 or expression.shape[1] != K:
            raise ValueError(f"{self.name}: expects expression [T, {K}], got {tuple(expression.shape)}; "
                             f"use a mapping net trained on this coefficient space")
        comfy_adapter.load_models([self.patcher])
        device = next(self.net.parameters()).device
        T = expression.shape[0]
        windows_expression = sequence_windows(expression.float(), self.net.config.window)  # [T, W, K]
        windows_blink = sequence_windows(blink.float(), self.net.config.window)  # [T, W, 2]
        pose = torch.zeros(T, 6)
        progress = comfy_adapter.Progress(max(1, -(-T // chunk_frames)))
        for start in range(0, T, chunk_frames):
            stop = min(T, start + chunk_frames)
            pose[start:stop] = self.net(windows_expression[start:stop].to(device),
                                        windows_blink[start:stop].to(device)).float().cpu()
            progress.update()
        return pose
