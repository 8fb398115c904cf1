"""Samplers, one algorithm per file, kept apart from the network (DDPM with Algorithm 1, DDIM, ...)."""
