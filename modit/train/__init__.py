"""Training (paper §3.5): losses L_t, L_v and landmarks, data, loop, CLI (python -m modit.train)."""
