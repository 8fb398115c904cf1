"""The forward diffusion process q(X_t | X_0) (paper §3.2, eq. 1-2; Ho et al. 2020) and its noise schedules.

Notation (code name -> paper symbol):
  num_train_steps  -> the number of diffusion steps of training (the paper's T; we never call it T)
  betas[t]         -> beta_t, the variance added at step t (not to be confused with expression beta)
  alphas_cumprod[t]-> alpha_bar_t = prod_{s<=t} (1 - beta_s)
  add_noise        -> eq. 2: X_t = sqrt(alpha_bar_t) X_0 + sqrt(1 - alpha_bar_t) eps
  predict_x0       -> X_0 estimate from eps: (X_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)

Steps are 0-based: t = 0 is the least noisy step, t = num_train_steps - 1 the noisiest.
"""
import math
from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class ScheduleConfig:
    num_train_steps: int = 1000
    kind: str = "linear"  # "linear" (DDPM) or "cosine" (Nichol & Dhariwal 2021)
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ScheduleConfig":
        return cls(**values)


class NoiseSchedule:
    """alpha_bar_t for t in [0, num_train_steps), in float64 on the CPU (tiny; cast where used)."""

    def __init__(self, config: ScheduleConfig = ScheduleConfig()):
        self.config = config
        n = config.num_train_steps
        if config.kind == "linear":
            betas = torch.linspace(config.beta_start, config.beta_end, n, dtype=torch.float64)
        elif config.kind == "cosine":
            s = 0.008
            steps = torch.arange(n + 1, dtype=torch.float64) / n
            f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
            betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
        else:
            raise ValueError(f"noise schedule kind {config.kind!r} unknown; expected 'linear' or 'cosine'")
        self.betas = betas
        self.alphas_cumprod = torch.cumprod(1 - betas, dim=0)  # [num_train_steps] alpha_bar_t

    @property
    def num_train_steps(self) -> int:
        return self.config.num_train_steps

    def alpha_bar(self, t, like: torch.Tensor) -> torch.Tensor:
        """alpha_bar_t as a tensor shaped to broadcast against `like` ([B] steps -> [B, 1, 1]); t = -1 gives 1."""
        t = torch.as_tensor(t)
        values = torch.where(t >= 0, self.alphas_cumprod[t.clamp(min=0).cpu()], torch.ones((), dtype=torch.float64))
        values = values.to(device=like.device, dtype=like.dtype)
        return values.reshape(values.shape + (1,) * (like.ndim - values.ndim))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t) -> torch.Tensor:
        """eq. 2: X_t from X_0 [B, T, K] and eps [B, T, K] at steps t ([B] or an int)."""
        a = self.alpha_bar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, eps: torch.Tensor, t) -> torch.Tensor:
        a = self.alpha_bar(t, x_t)
        return (x_t - (1 - a).sqrt() * eps) / a.sqrt()

    def predict_eps(self, x_t: torch.Tensor, x0: torch.Tensor, t) -> torch.Tensor:
        a = self.alpha_bar(t, x_t)
        return (x_t - a.sqrt() * x0) / (1 - a).sqrt()

    def spaced_timesteps(self, num_steps: int) -> torch.Tensor:
        """num_steps steps evenly spread over [0, num_train_steps), noisiest first (a LongTensor)."""
        if not 1 <= num_steps <= self.num_train_steps:
            raise ValueError(f"steps must be in 1..{self.num_train_steps}, got {num_steps}")
        steps = torch.linspace(0, self.num_train_steps - 1, num_steps, dtype=torch.float64).round().long()
        return steps.flip(0)
