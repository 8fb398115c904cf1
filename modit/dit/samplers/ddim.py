"""DDIM (Song et al. 2021, eq. 12): deterministic (eta = 0) sampling in few steps from a DDPM-trained network.

This is the update of the MoDiT paper's Algorithm 1 (line 8); the driver (sampling.py) adds the phase-dependent
bias, guidance and windows around it.

Notation (code name -> paper symbol), step from t to s (the previous timestep):
  a_t, a_s   -> alpha_t, alpha_{t-1} in DDIM's notation (= alpha_bar of DDPM)
  pred_x0    -> "predicted x_0" = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t), bounded by x0_clip (eps then re-derived)
  sigma      -> sigma_t(eta) = eta sqrt((1 - a_s) / (1 - a_t)) sqrt(1 - a_t / a_s)     (eq. 16)
  eq. 12:    x_s = sqrt(a_s) pred_x0 + sqrt(1 - a_s - sigma^2) eps + sigma z
"""
from .base import Sampler, StepOutput, randn_like


class DDIMSampler(Sampler):
    name = "ddim"

    def __init__(self, schedule, x0_clip=None, eta: float = 0.0):
        super().__init__(schedule, x0_clip)
        self.eta = eta
        self.stochastic = eta > 0

    def step(self, eps, t, x_t, generator=None) -> StepOutput:
        s = self.prev_timestep(t)
        a_t = self.schedule.alpha_bar(t, x_t)
        a_s = self.schedule.alpha_bar(s, x_t)
        pred_x0 = self.predict_x0(x_t, eps, t)
        if self.x0_clip is not None:  # the direction term must point from the bounded X_0, not the raw one
            eps = self.schedule.predict_eps(x_t, pred_x0, t)
        sigma = self.eta * ((1 - a_s) / (1 - a_t)).sqrt() * (1 - a_t / a_s).sqrt()  # eq. 16
        prev = a_s.sqrt() * pred_x0 + (1 - a_s - sigma ** 2).clamp(min=0).sqrt() * eps  # eq. 12
        if self.eta > 0 and s >= 0:
            prev = prev + sigma * randn_like(x_t, generator)
        return StepOutput(prev, pred_x0)
