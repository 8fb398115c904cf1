"""What every sampler returns, and the pieces they share (diffusers-style set_timesteps / step)."""
from dataclasses import dataclass

import torch

from ..schedule import NoiseSchedule


@dataclass
class StepOutput:
    prev_sample: torch.Tensor  # x_{t_prev} [B, T, K], the input of the next step
    pred_x0: torch.Tensor  # the current estimate of X_0 [B, T, K] (a preview of the result)


class Sampler:
    """A sampler owns the timesteps and the update rule; it never sees the network.

    Use: sampler.set_timesteps(num_steps); for t in sampler.timesteps: eps = net(x, t); x = sampler.step(eps, t,
    x, generator).prev_sample. `prev_timestep(t)` is the step the output belongs to (-1 after the last step).
    """

    name = "base"
    stochastic = False  # True when step() draws noise from the generator

    def __init__(self, schedule: NoiseSchedule):
        self.schedule = schedule
        self.timesteps = torch.zeros(0, dtype=torch.long)
        self._prev = {}

    def set_timesteps(self, num_steps: int) -> None:
        self.timesteps = self.schedule.spaced_timesteps(num_steps)  # noisiest first
        following = self.timesteps.tolist()[1:] + [-1]
        self._prev = dict(zip(self.timesteps.tolist(), following))

    def prev_timestep(self, t: int) -> int:
        return self._prev[int(t)]

    def step(self, eps: torch.Tensor, t: int, x_t: torch.Tensor, generator: torch.Generator | None = None) -> StepOutput:
        raise NotImplementedError


def randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise drawn on the generator's device (CPU for reproducible seeds), moved to x's."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device, dtype=torch.float32).to(x.device, x.dtype)
