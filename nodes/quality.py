"""Quality measures users can pick seeds with: MoDiT Lip-Sync Score."""

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
