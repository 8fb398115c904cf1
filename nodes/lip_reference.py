"""Wav2Lip lip reference (paper §3.4.5): MoDiT Load Wav2Lip, MoDiT Wav2Lip Reference."""

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
