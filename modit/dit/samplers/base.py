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

    x0_clip bounds every X_0 estimate to [-x0_clip, x0_clip] (normalised units, training-data standard deviations),
    as DDPM's clip_denoised and diffusers' clip_sample: deterministic few-step samplers otherwise follow the network's
    early, very noisy X_0 guesses far outside the expression space (jaw_open of +-5 with the bundled DiT). None
    turns it off. Every sampler takes its X_0 from predict_x0 below, so the bound lives in one place.
    """

    name = "base"
    stochastic = False  # True when step() draws noise from the generator

    def __init__(self, schedule: NoiseSchedule, x0_clip: float | None = None):
        self.schedule = schedule
        self.x0_clip = x0_clip
        self.timesteps = torch.zeros(0, dtype=torch.long)
        self._prev = {}

    def set_timesteps(self, num_steps: int) -> None:
        self.timesteps = self.schedule.spaced_timesteps(num_steps)  # noisiest first
        following = self.timesteps.tolist()[1:] + [-1]
        self._prev = dict(zip(self.timesteps.tolist(), following))

    def prev_timestep(self, t: int) -> int:
        return self._prev[int(t)]

    def predict_x0(self, x_t: torch.Tensor, eps: torch.Tensor, t: int) -> torch.Tensor:
        """The X_0 estimate of this step (schedule.predict_x0), bounded by x0_clip when set."""
        x0 = self.schedule.predict_x0(x_t, eps, t)
        return x0 if self.x0_clip is None else x0.clamp(-self.x0_clip, self.x0_clip)

    def step(self, eps: torch.Tensor, t: int, x_t: torch.Tensor, generator: torch.Generator | None = None) -> StepOutput:
        raise NotImplementedError


def randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise drawn on the generator's device (CPU for reproducible seeds), moved to x's."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device, dtype=torch.float32).to(x.device, x.dtype)
