"""Every node of the pack, gathered from one module per pipeline stage (thin V1 node classes)."""
from . import audio, blink, face, lip_reference, motion, motion_extract, motion_tools, quality, render

STAGES = (audio, face, motion, blink, motion_tools, motion_extract, lip_reference, render, quality)

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
for _stage in STAGES:
    NODE_CLASS_MAPPINGS.update(_stage.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_stage.NODE_DISPLAY_NAME_MAPPINGS)
