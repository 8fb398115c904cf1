"""Samplers, one algorithm per file, kept apart from the network (DDPM with Algorithm 1, DDIM, DPM-Solver++).

A new sampler is one file here plus one entry in SAMPLERS; the network, the driver and the nodes stay as they are.
"""
from .base import Sampler, StepOutput
from .ddim import DDIMSampler
from .ddpm import DDPMSampler
from .dpmpp_2m import DPMSolverPP2MSampler

SAMPLERS = {"ddim": DDIMSampler, "ddpm": DDPMSampler, "dpmpp_2m": DPMSolverPP2MSampler}


def make_sampler(name: str, schedule) -> Sampler:
    if name not in SAMPLERS:
        raise ValueError(f"sampler {name!r} unknown; expected one of {sorted(SAMPLERS)}")
    return SAMPLERS[name](schedule)


__all__ = ["SAMPLERS", "Sampler", "StepOutput", "make_sampler"]
