"""Audio encoding (paper §3.2 audio latents): MoDiT Load Audio Encoder, MoDiT Encode Audio."""

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
