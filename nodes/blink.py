"""Blink mapping and head motion (paper §3.4.4): MoDiT Blink & Pose."""

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
