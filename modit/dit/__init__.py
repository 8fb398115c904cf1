"""The MoDiT diffusion transformer (paper §3.2-3.4.3): model, temporal attention, bias injection, schedules.

Where to find each part of the paper:
  model.py              Figure 3: the DiT block (eq. 4 self-attention with beta_0, audio cross-attention with A_n,
                        adaLN-Zero step conditioning) and the whole denoiser eps_theta
  temporal_attention.py eq. 6: revised temporal attention s~_t = Q K^T / sqrt(d_k) + f(z_t)
  bias_injection.py     §3.4.2 / Algorithm 1: M_D, M_E and the phase decider (t < t_T)
  schedule.py           eq. 1-2: the forward process and its beta schedule
  samplers/             one algorithm per file: DDPM (Algorithm 1's loop), DDIM, DPM-Solver++(2M)
  sampling.py           Algorithm 1 driven end to end: phase per step, guidance, seeds, windows for long audio
  presets.py            network sizes ("paper", "embedded", "tiny")
  checkpoint.py         safetensors + metadata save/load with key and shape checks
  handle.py             DiTHandle, the MODIT_DIT_MODEL the nodes pass around
Training (eq. 3, eq. 7, the corpus reader and the CLI) lives in modit/train/.
"""
