"""Training the blink mapping net (paper §3.4.4) with the pose terms of §3.5: L_pose + L_v (eq. 7 on poses).

Data are motion tracks whose pose and eye closure are real: MODIT_MOTION files (MoDiT Save Motion, or motion
extracted from videos of people talking). Each step draws B frames t and their neighbours t + 1, predicts
both poses from the windows around them, and fits
    L = L_pose + velocity_weight * L_v
    L_pose = mean ||(pose_hat_t - pose_t) / s||^2                 (s = POSE_SCALE, so channels weigh alike)
    L_v    = mean ||((pose_hat_t+1 - pose_hat_t) - (pose_t+1 - pose_t)) / s||^2
L_v is the velocity loss of eq. 7 applied to pose: it makes frame-to-frame motion, not only the level, right.

CLI: python -m modit_app train-blink --tracks DIR_OR_FILES... --out models/modit/blink_mapping.safetensors
"""
import logging
import math
from dataclasses import dataclass

import torch

from ..blink.mapping_net import POSE_SCALE, BlinkMappingNet, MappingNetConfig
from ..types import Motion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlinkTrainingConfig:
    steps: int = 3000
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    velocity_weight: float = 1.0  # weight of L_v (eq. 7); 0 trains on pose levels only
    seed: int = 0
    log_every: int = 100


class PoseWindowSampler:
    """Random pairs of neighbouring frames (t, t + 1) from motion tracks, with their input windows."""

    def __init__(self, tracks: list[Motion], window: int):
        if not tracks:
            raise ValueError("blink training: no motion tracks given; pass motion files saved by MoDiT Save Motion")
        spaces = {track.space for track in tracks}
        widths = {track.expression.shape[1] for track in tracks}
        if len(spaces) > 1 or len(widths) > 1:
            raise ValueError(f"blink training: tracks mix coefficient spaces {sorted(spaces)} / widths "
                             f"{sorted(widths)}; train one mapping net per space")
        short = [i for i, track in enumerate(tracks) if track.num_frames < 2]
        if short:
            raise ValueError(f"blink training: tracks {short} have fewer than 2 frames")
        half = window // 2
        self.window = window
        self.space = tracks[0].space
        self.fps = tracks[0].fps
        self.inputs = []  # per track: [T + 2 * half, K + 2] expression and blink, edges extended
        self.poses = []  # per track: [T, 6]
        for track in tracks:
            sequence = torch.cat([track.expression.float(), track.eye_closure.float()], dim=1).cpu()  # [T, K + 2]
            padded = torch.cat([sequence[:1].expand(half, -1), sequence, sequence[-1:].expand(half, -1)])
            self.inputs.append(padded)
            self.poses.append(track.pose.float().cpu())
        self.weights = torch.tensor([float(p.shape[0] - 1) for p in self.poses])
        self.num_coefficients = tracks[0].expression.shape[1]

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(expression [2B, W, K], blink [2B, W, 2], pose [2B, 6]); rows B.. are the frames after rows ..B."""
        which = torch.multinomial(self.weights, batch_size, replacement=True, generator=generator).tolist()  # [B]
        frames = [int(torch.randint(0, self.poses[track].shape[0] - 1, (1,), generator=generator)) for track in which]
        offsets = torch.arange(self.window)
        windows, poses = [], []
        for step in (0, 1):  # the frames t, then their neighbours t + 1
            for track, frame in zip(which, frames):
                windows.append(self.inputs[track][frame + step + offsets])  # [W, K + 2]
                poses.append(self.poses[track][frame + step])  # [6]
        stacked = torch.stack(windows)  # [2B, W, K + 2]
        K = self.num_coefficients
        return stacked[..., :K], stacked[..., K:], torch.stack(poses)


def mapping_losses(predicted: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_pose, L_v) for predictions/targets [2B, 6] laid out as in PoseWindowSampler.sample."""
    scale = torch.tensor(POSE_SCALE, device=predicted.device)
    error = (predicted - target) / scale  # [2B, 6]
    B = predicted.shape[0] // 2
    pose_loss = error.pow(2).mean()
    velocity_loss = (error[B:] - error[:B]).pow(2).mean()  # eq. 7: (dpose_hat - dpose) between t and t + 1
    return pose_loss, velocity_loss


def train_mapping_net(tracks: list[Motion], net_config: MappingNetConfig | None = None,
                      config: BlinkTrainingConfig | None = None, device: str | torch.device = "cpu",
                      net: BlinkMappingNet | None = None) -> tuple[BlinkMappingNet, list[float]]:
    """Fit a mapping net to motion tracks; returns (net in eval mode on the CPU, loss per step)."""
    config = config or BlinkTrainingConfig()
    K = tracks[0].expression.shape[1] if tracks else 0
    net_config = net_config or (net.config if net is not None else MappingNetConfig(num_coefficients=K))
    if net_config.num_coefficients != K:
        raise ValueError(f"blink training: net expects K={net_config.num_coefficients} but tracks have K={K}")
    sampler = PoseWindowSampler(tracks, net_config.window)
    torch.manual_seed(config.seed)
    net = (net or BlinkMappingNet(net_config)).to(device).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(  # cosine decay to 10 %: late steps settle instead of jitter
        optimizer, lambda step: 0.1 + 0.45 * (1 + math.cos(math.pi * min(step / max(config.steps, 1), 1.0))))
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    for step in range(config.steps):
        expression, blink, pose = sampler.sample(config.batch_size, generator)
        predicted = net(expression.to(device), blink.to(device))  # [2B, 6]
        pose_loss, velocity_loss = mapping_losses(predicted, pose.to(device))
        loss = pose_loss + config.velocity_weight * velocity_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        history.append(float(loss.detach()))
        if config.log_every and (step + 1) % config.log_every == 0:
            log.info("step %d/%d: loss %.5f (pose %.5f, velocity %.5f)", step + 1, config.steps, float(loss),
                     float(pose_loss), float(velocity_loss))
    return net.cpu().eval(), history
