"""Training (paper §3.5): losses L_t, L_v and landmarks, data, loop, CLI (python -m modit.train).

  losses.py  eq. 3 (L_t), eq. 7 (L_v), L_lks and the paper's loss weights
  data.py    the corpus shard format and random training windows
  loop.py    one diffusion training step and the loop (EMA, resume, DistributedDataParallel)
  cli.py     `python -m modit.train --data DIR --preset embedded --steps N --batch-size B --out FILE`
"""
