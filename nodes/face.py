"""3DMM extraction (paper §3.1): MoDiT Extract 3DMM."""

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
