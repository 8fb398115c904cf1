"""Samplers, one algorithm per file, kept apart from the network, named by what they compute: "ddim" (Algorithm 1's
deterministic update, line 8), "ddpm" (ancestral DDPM) and "dpmpp_2m" (DPM-Solver++(2M)). The keys are stored in
saved workflows, so they never change.

A new sampler is one file here plus one entry in SAMPLERS; the network, the driver and the nodes stay as they are.
"""
from .base import Sampler, StepOutput
from .ddim import DDIMSampler
from .ddpm import DDPMSampler
from .dpmpp_2m import DPMSolverPP2MSampler

SAMPLERS = {"ddim": DDIMSampler, "ddpm": DDPMSampler, "dpmpp_2m": DPMSolverPP2MSampler}


def make_sampler(name: str, schedule, x0_clip: float | None = None) -> Sampler:
    """The sampler stored under `name`; x0_clip bounds its X_0 estimates (Sampler)."""
    if name not in SAMPLERS:
        raise ValueError(f"sampler {name!r} unknown; expected one of {sorted(SAMPLERS)}")
    return SAMPLERS[name](schedule, x0_clip)


__all__ = ["SAMPLERS", "Sampler", "StepOutput", "make_sampler"]
