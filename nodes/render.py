"""Flow rendering (paper §3.4.5): MoDiT Flow Render, MoDiT Render To Video."""

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
