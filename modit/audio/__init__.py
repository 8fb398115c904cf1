"""Audio latents A_1..n aligned to video frames (paper §3.2): built-in log-mel and HuBERT / wav2vec2."""
