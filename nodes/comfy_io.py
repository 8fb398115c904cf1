"""The only door to ComfyUI's node API: `io` and `ComfyExtension` from `comfy_api.latest` when ComfyUI is there,
else the pack's stand-in (nodes/io_standin.py), chosen at import time as modit/comfy_adapter.py chooses between
ComfyUI and plain torch. Node modules import `io` from here and nowhere else.
"""
try:  # ComfyUI has imported comfy_api before it loads custom nodes, so this is cheap there.
    from comfy_api.latest import ComfyExtension, io
    HAVE_COMFY_API = True
except ModuleNotFoundError as error:
    if error.name not in ("comfy_api", "comfy_api.latest"):
        raise  # ComfyUI is there but its node API failed to import: hiding that would hide the pack's nodes
    from . import io_standin as io
    from .io_standin import ComfyExtension
    HAVE_COMFY_API = False

__all__ = ["ComfyExtension", "HAVE_COMFY_API", "io"]
