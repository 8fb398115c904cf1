"""The MoDiT diffusion transformer (paper §3.2-3.4.3): model, temporal attention, bias injection, schedules."""
