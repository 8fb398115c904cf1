"""Small tools on MODIT_MOTION tracks: smooth, scale, save, load, preview."""

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
