"""ComfyUI-MoDiT: one portrait + one speech recording -> a talking-head video (the MoDiT method as nodes).

ComfyUI imports this file and calls comfy_entrypoint() (V3 node API). It stays cheap: no weights, no CUDA, no
heavy optional imports. There is deliberately no NODE_CLASS_MAPPINGS: ComfyUI would then ignore comfy_entrypoint.
"""
WEB_DIRECTORY = "./web"

if __package__:  # ComfyUI (and modit_app/pack.py) import this folder as a package. pytest may import this file as a
    # lone module when the checkout's folder name is not a Python identifier; then there is nothing to register.
    from .modit.comfy_adapter import register_model_folders
    from .nodes import comfy_entrypoint

    register_model_folders()

    __all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
