"""Small tools on MODIT_MOTION tracks: smooth, scale, save, load, preview."""
import logging
import os

from ..modit import comfy_adapter
from ..modit.motion.filters import COMPONENT_GROUPS, scale_expression, smooth_motion
from ..modit.motion.preview import draw_motion_curves
from ..modit.motion_curves import motion_ui
from ..modit.motion.track_files import (SUBFOLDER, list_motion_files, load_motion, resolve_motion_file,
                                        save_motion, validate_track_name)
from ..modit.types import MODIT_FACE, MODIT_MOTION

log = logging.getLogger(__name__)

CATEGORY = "MoDiT/motion/tools"
_MOTION_IN = (MODIT_MOTION, {"tooltip": "A motion track (expression, pose, eye closure per frame)."})


class MoDiTSmoothMotion:
    DESCRIPTION = ("Smooths a motion track over time, expression and head pose each with their own strength. "
                   "Eye closure is left sharp so blinks stay blinks.")
    CATEGORY = CATEGORY
    FUNCTION = "smooth"
    RETURN_TYPES = (MODIT_MOTION,)
    RETURN_NAMES = ("motion",)
    OUTPUT_TOOLTIPS = ("The smoothed motion track (same frames and fps).",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "motion": _MOTION_IN,
            "expression_smoothing": ("FLOAT", {"default": 0.02, "min": 0.0, "max": 1.0, "step": 0.005,
                                               "tooltip": "Gaussian sigma in seconds for expression; above about "
                                                          "0.04 s lip shapes start to blur. 0 = untouched. Cheap."}),
            "pose_smoothing": ("FLOAT", {"default": 0.1, "min": 0.0, "max": 2.0, "step": 0.01,
                                         "tooltip": "Gaussian sigma in seconds for head pose; larger = calmer, "
                                                    "slower head. 0 = untouched. Cheap."}),
        }}

    def smooth(self, motion, expression_smoothing, pose_smoothing):
        result = smooth_motion(motion, expression_smoothing, pose_smoothing)
        return {"ui": motion_ui(result), "result": (result,)}


class MoDiTScaleExpression:
    DESCRIPTION = ("Exaggerates or damps the expression of a motion track: every coefficient moves `scale` "
                   "times as far from the source face's expression (or from neutral without a face).")
    CATEGORY = CATEGORY
    FUNCTION = "scale"
    RETURN_TYPES = (MODIT_MOTION,)
    RETURN_NAMES = ("motion",)
    OUTPUT_TOOLTIPS = ("The motion track with scaled expression; pose and eye closure unchanged.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "motion": _MOTION_IN,
            "scale": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 3.0, "step": 0.05,
                                "tooltip": "1 = unchanged, < 1 subtler, > 1 stronger mouth and brows. Above about "
                                           "1.5 the renderer may tear the lips. Cheap."}),
            "components": (list(COMPONENT_GROUPS), {
                "default": "all",
                "tooltip": "Which coefficients to scale: all, only the mouth, or only brows and cheeks "
                           "(the last two need the embedded-v1 space)."}),
        }, "optional": {
            "face": (MODIT_FACE, {"tooltip": "The source face; when connected, scaling is about its own expression "
                                             "(beta_0), so its resting smile or frown is kept."}),
        }}

    def scale(self, motion, scale, components, face=None):
        about = face.beta_0 if face is not None else None
        result = scale_expression(motion, scale, about=about, group=components)
        return {"ui": motion_ui(result), "result": (result,)}


class MoDiTSaveMotion:
    DESCRIPTION = (f"Saves a motion track as .safetensors in ComfyUI's output/{SUBFOLDER} folder (never "
                   f"overwriting: a counter is added) and passes the motion on.")
    CATEGORY = CATEGORY
    FUNCTION = "save"
    OUTPUT_NODE = True
    RETURN_TYPES = (MODIT_MOTION,)
    RETURN_NAMES = ("motion",)
    OUTPUT_TOOLTIPS = ("The same motion track, unchanged, for further nodes.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "motion": _MOTION_IN,
            "filename": ("STRING", {"default": "motion",
                                    "tooltip": f"File name without folders, saved as output/{SUBFOLDER}/<name>."
                                               "safetensors (about 100 bytes per frame)."}),
        }}

    @classmethod
    def VALIDATE_INPUTS(cls, filename=None):
        if filename is None:  # linked from another node: checked when the node runs
            return True
        try:
            validate_track_name(filename)
        except ValueError as error:
            return str(error)
        return True

    def save(self, motion, filename):
        path = save_motion(motion, filename)
        ui = motion_ui(motion)
        ui["text"] = [f"{SUBFOLDER}/{os.path.basename(path)}"]
        return {"ui": ui, "result": (motion,)}


class MoDiTLoadMotion:
    DESCRIPTION = (f"Loads a motion track saved by MoDiT Save Motion, from output/{SUBFOLDER} or from the input "
                   f"folder (its root or {SUBFOLDER}/).")
    CATEGORY = CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = (MODIT_MOTION,)
    RETURN_NAMES = ("motion",)
    OUTPUT_TOOLTIPS = ("The loaded motion track.",)

    @classmethod
    def INPUT_TYPES(cls):
        files = list_motion_files()
        return {"required": {
            # No "default": the list depends on the user's files (the first one is selected, as in LoadImage).
            "track": (files, {"tooltip": "A .safetensors motion track; [output] = saved by MoDiT Save Motion, "
                                         "[input] = from the input folder. Refresh after saving. Cheap."}),
        }}

    @classmethod
    def IS_CHANGED(cls, track):
        try:
            return os.path.getmtime(resolve_motion_file(track))
        except (OSError, ValueError):
            return float("nan")

    def load(self, track):
        result = load_motion(resolve_motion_file(track))
        return {"ui": motion_ui(result), "result": (result,)}


class MoDiTPreviewMotion:
    DESCRIPTION = ("Draws a motion track's curves (mouth opening, left and right eye closure, yaw, pitch and "
                   "roll) over time as an image, to check blinks and head motion before rendering.")
    CATEGORY = CATEGORY
    FUNCTION = "preview"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("A [1, H, W, 3] chart; connect it to Preview Image or Save Image.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "motion": _MOTION_IN,
            "width": ("INT", {"default": 1024, "min": 256, "max": 8192, "step": 8,
                              "tooltip": "Chart width in pixels; wider shows long tracks in more detail."}),
            "height": ("INT", {"default": 512, "min": 192, "max": 4096, "step": 8,
                               "tooltip": "Chart height in pixels (three panels share it)."}),
        }}

    def preview(self, motion, width, height):
        image = draw_motion_curves(motion, width, height)
        return (image.to(comfy_adapter.intermediate_device(), comfy_adapter.intermediate_dtype()),)


NODE_CLASS_MAPPINGS = {
    "MoDiTSmoothMotion": MoDiTSmoothMotion,
    "MoDiTScaleExpression": MoDiTScaleExpression,
    "MoDiTSaveMotion": MoDiTSaveMotion,
    "MoDiTLoadMotion": MoDiTLoadMotion,
    "MoDiTPreviewMotion": MoDiTPreviewMotion,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "MoDiTSmoothMotion": "MoDiT Smooth Motion",
    "MoDiTScaleExpression": "MoDiT Scale Expression",
    "MoDiTSaveMotion": "MoDiT Save Motion",
    "MoDiTLoadMotion": "MoDiT Load Motion",
    "MoDiTPreviewMotion": "MoDiT Preview Motion",
}
