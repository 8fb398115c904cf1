"""ComfyUI-MoDiT: one portrait + one speech recording -> a talking-head video (the MoDiT method as nodes).

ComfyUI imports this file. It stays cheap: no weights, no CUDA, no heavy optional imports.
"""
WEB_DIRECTORY = "./web"

if __package__:  # ComfyUI (and modit_app/pack.py) import this folder as a package. pytest may import this file as a
    # lone module when the checkout's folder name is not a Python identifier; then there is nothing to register.
    from .modit.comfy_adapter import register_model_folders
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

    register_model_folders()

    __all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
