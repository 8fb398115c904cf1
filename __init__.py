"""ComfyUI-MoDiT: one portrait + one speech recording -> a talking-head video (the MoDiT method as nodes).

ComfyUI imports this file. It stays cheap: no weights, no CUDA, no heavy optional imports.
"""
from .modit.comfy_adapter import register_model_folders
from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

register_model_folders()

WEB_DIRECTORY = "./web"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
