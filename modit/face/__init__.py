"""3DMM extraction (paper §3.1): the embedded MediaPipe face stack, pose, expression space and eye openness."""
