"""DDPM ancestral sampling (Ho et al. 2020, Alg. 2): the stochastic alternative to the paper's update.

MoDiT's Algorithm 1 updates X_t with the deterministic DDIM rule (its line 8; samplers/ddim.py); this file is the
classic ancestral sampler with the same bias injection around it (the driver applies Algorithm 1's phases to
every sampler).

Notation (code name -> paper symbol), for a step from t to s = the previous timestep (s = t - 1 when every
training step is used; with fewer steps the schedule is respaced and beta_t becomes 1 - alpha_bar_t / alpha_bar_s):
  a_t, a_s   -> alpha_bar_t, alpha_bar_s
  beta_t     -> 1 - a_t / a_s
  pred_x0    -> X_0 estimate (X_t - sqrt(1 - a_t) eps) / sqrt(a_t)
  mean       -> mu~_t = sqrt(a_s) beta_t / (1 - a_t) X_0 + sqrt(1 - beta_t) (1 - a_s) / (1 - a_t) X_t
  sigma      -> sqrt(beta~_t), beta~_t = (1 - a_s) / (1 - a_t) beta_t (posterior variance)
  Alg. 1:   X_s = mu~_t + sigma z, z ~ N(0, I) (no noise on the last step)
"""
from .base import Sampler, StepOutput, randn_like


class DDPMSampler(Sampler):
    name = "ddpm"
    stochastic = True

    def step(self, eps, t, x_t, generator=None) -> StepOutput:
        s = self.prev_timestep(t)
        a_t = self.schedule.alpha_bar(t, x_t)
        a_s = self.schedule.alpha_bar(s, x_t)
        beta_t = 1 - a_t / a_s
        pred_x0 = self.predict_x0(x_t, eps, t)
        mean = (a_s.sqrt() * beta_t / (1 - a_t)) * pred_x0 + ((1 - beta_t).sqrt() * (1 - a_s) / (1 - a_t)) * x_t
        if s < 0:
            return StepOutput(mean, pred_x0)
        sigma = ((1 - a_s) / (1 - a_t) * beta_t).sqrt()
        return StepOutput(mean + sigma * randn_like(x_t, generator), pred_x0)
