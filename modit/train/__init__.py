"""Training (paper §3.5): losses L_t, L_v and landmarks, data, loop (the command line: python -m modit_app train).

  losses.py  eq. 3 (L_t), eq. 7 (L_v), L_lks and the paper's loss weights
  data.py    the corpus shard format and random training windows
  loop.py    one diffusion training step and the loop (EMA, resume, DistributedDataParallel)
  held_out.py  the voices and sentences the corpus leaves out and evaluate.py speaks
  evaluate.py  held-out lip-sync figures (r, lag) of a DiT
"""
