"""DPM-Solver++(2M) (Lu et al. 2022, Alg. 2): a second-order multistep solver of the diffusion ODE in x_0 form.

Notation (code name -> paper symbol), step from t to s with the previous step's estimate kept:
  alpha, sigma   -> alpha_t = sqrt(alpha_bar_t), sigma_t = sqrt(1 - alpha_bar_t)
  lam            -> lambda_t = log(alpha_t / sigma_t), the half log-SNR
  h              -> h = lambda_s - lambda_t
  D              -> the x_0 estimate: first order on the first step, then
                    D = (1 + 1 / (2 r)) x0_t - 1 / (2 r) x0_prev with r = h_prev / h
  update         -> x_s = (sigma_s / sigma_t) x_t - alpha_s (e^{-h} - 1) D
The last step (to alpha_bar = 1, lambda = inf) returns D itself.
"""
import torch

from .base import Sampler, StepOutput


class DPMSolverPP2MSampler(Sampler):
    name = "dpmpp_2m"

    def set_timesteps(self, num_steps: int) -> None:
        super().set_timesteps(num_steps)
        self._previous = None  # (x0 estimate, h) of the previous step; reset for every new run

    def _lambda(self, a: torch.Tensor) -> torch.Tensor:
        return 0.5 * (a.log() - (1 - a).log())

    def step(self, eps, t, x_t, generator=None) -> StepOutput:
        s = self.prev_timestep(t)
        a_t = self.schedule.alpha_bar(t, x_t).double()
        pred_x0 = self.predict_x0(x_t.double(), eps.double(), t)
        if s < 0:
            self._previous = None
            return StepOutput(pred_x0.to(x_t.dtype), pred_x0.to(x_t.dtype))
        a_s = self.schedule.alpha_bar(s, x_t).double()
        h = self._lambda(a_s) - self._lambda(a_t)
        D = pred_x0
        if self._previous is not None:
            x0_prev, h_prev = self._previous
            r = h_prev / h
            D = (1 + 1 / (2 * r)) * pred_x0 - (1 / (2 * r)) * x0_prev
        prev = ((1 - a_s) / (1 - a_t)).sqrt() * x_t.double() - a_s.sqrt() * torch.expm1(-h) * D
        self._previous = (pred_x0, h)
        return StepOutput(prev.to(x_t.dtype), pred_x0.to(x_t.dtype))
