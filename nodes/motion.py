"""Expression sampling with the diffusion transformer (paper §3.2-3.4): MoDiT Load DiT, MoDiT Sample Expression."""

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
