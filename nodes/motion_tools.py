"""Small tools on MODIT_MOTION tracks: smooth, scale, save, load, preview."""
import logging
import os

from ..modit import comfy_adapter
from ..modit.motion.filters import COMPONENT_GROUPS, scale_expression, smooth_motion
from ..modit.motion.preview import draw_motion_curves
from ..modit.motion_curves import motion_ui
from ..modit.motion.track_files import (SUBFOLDER, list_motion_files, load_motion, resolve_motion_file,
                                        save_motion, validate_track_name)
from . import sockets
from .comfy_io import io

log = logging.getLogger(__name__)

CATEGORY = "MoDiT/motion/tools"


def _motion_in() -> io.Input:
    return sockets.Motion.Input("motion", tooltip="A motion track (expression, pose, eye closure per frame).")


class MoDiTSmoothMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTSmoothMotion",
            display_name="MoDiT Smooth Motion",
            category=CATEGORY,
            description=("Smooths a motion track over time, expression and head pose each with their own strength. "
                         "Eye closure is left sharp so blinks stay blinks."),
            inputs=[
                _motion_in(),
                io.Float.Input("expression_smoothing", default=0.02, min=0.0, max=1.0, step=0.005, tooltip=(
                    "Gaussian sigma in seconds for expression; above about 0.04 s lip shapes start to blur. 0 = "
                    "untouched. Cheap.")),
                io.Float.Input("pose_smoothing", default=0.1, min=0.0, max=2.0, step=0.01, tooltip=(
                    "Gaussian sigma in seconds for head pose; larger = calmer, slower head. 0 = untouched. Cheap.")),
            ],
            outputs=[sockets.Motion.Output("motion", tooltip="The smoothed motion track (same frames and fps).")],
        )

    @classmethod
    def execute(cls, motion, expression_smoothing, pose_smoothing) -> io.NodeOutput:
        result = smooth_motion(motion, expression_smoothing, pose_smoothing)
        return io.NodeOutput(result, ui=motion_ui(result))


class MoDiTScaleExpression(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTScaleExpression",
            display_name="MoDiT Scale Expression",
            category=CATEGORY,
            description=("Exaggerates or damps the expression of a motion track: every coefficient moves `scale` "
                         "times as far from the source face's expression (or from neutral without a face)."),
            inputs=[
                _motion_in(),
                io.Float.Input("scale", default=1.0, min=0.0, max=3.0, step=0.05, tooltip=(
                    "1 = unchanged, < 1 subtler, > 1 stronger mouth and brows. Above about 1.5 the renderer may "
                    "tear the lips. Cheap.")),
                io.Combo.Input("components", options=list(COMPONENT_GROUPS), default="all", tooltip=(
                    "Which coefficients to scale: all, only the mouth, or only brows and cheeks (the last two need "
                    "the embedded-v1 space).")),
                sockets.Face.Input("face", optional=True, tooltip=(
                    "The source face; when connected, scaling is about its own expression (beta_0), so its resting "
                    "smile or frown is kept.")),
            ],
            outputs=[sockets.Motion.Output("motion", tooltip="The motion track with scaled expression; pose and eye "
                                                             "closure unchanged.")],
        )

    @classmethod
    def execute(cls, motion, scale, components, face=None) -> io.NodeOutput:
        about = face.beta_0 if face is not None else None
        result = scale_expression(motion, scale, about=about, group=components)
        return io.NodeOutput(result, ui=motion_ui(result))


class MoDiTSaveMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTSaveMotion",
            display_name="MoDiT Save Motion",
            category=CATEGORY,
            description=(f"Saves a motion track as .safetensors in ComfyUI's output/{SUBFOLDER} folder (never "
                         f"overwriting: a counter is added) and passes the motion on."),
            inputs=[
                _motion_in(),
                io.String.Input("filename", default="motion", tooltip=(
                    f"File name without folders, saved as output/{SUBFOLDER}/<name>.safetensors (about 100 bytes "
                    f"per frame).")),
            ],
            outputs=[sockets.Motion.Output("motion", tooltip="The same motion track, unchanged, for further nodes.")],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, filename=None):
        if filename is None:  # linked from another node: checked when the node runs
            return True
        try:
            validate_track_name(filename)
        except ValueError as error:
            return str(error)
        return True

    @classmethod
    def execute(cls, motion, filename) -> io.NodeOutput:
        path = save_motion(motion, filename)
        ui = motion_ui(motion)
        ui["text"] = [f"{SUBFOLDER}/{os.path.basename(path)}"]
        return io.NodeOutput(motion, ui=ui)


class MoDiTLoadMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTLoadMotion",
            display_name="MoDiT Load Motion",
            category=CATEGORY,
            description=(f"Loads a motion track saved by MoDiT Save Motion, from output/{SUBFOLDER} or from the "
                         f"input folder (its root or {SUBFOLDER}/)."),
            inputs=[
                # No default: the list depends on the user's files (the first one is selected, as in LoadImage).
                io.Combo.Input("track", options=list_motion_files(), tooltip=(
                    "A .safetensors motion track; [output] = saved by MoDiT Save Motion, [input] = from the input "
                    "folder. Refresh after saving. Cheap.")),
            ],
            outputs=[sockets.Motion.Output("motion", tooltip="The loaded motion track.")],
        )

    @classmethod
    def fingerprint_inputs(cls, track):
        """The file's modification time, so ComfyUI runs the node again when the file is saved anew."""
        try:
            return os.path.getmtime(resolve_motion_file(track))
        except (OSError, ValueError):
            return float("nan")

    @classmethod
    def execute(cls, track) -> io.NodeOutput:
        result = load_motion(resolve_motion_file(track))
        return io.NodeOutput(result, ui=motion_ui(result))


class MoDiTPreviewMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTPreviewMotion",
            display_name="MoDiT Preview Motion",
            category=CATEGORY,
            description=("Draws a motion track's curves (mouth opening, left and right eye closure, yaw, pitch and "
                         "roll) over time as an image, to check blinks and head motion before rendering."),
            inputs=[
                _motion_in(),
                io.Int.Input("width", default=1024, min=256, max=8192, step=8, tooltip=(
                    "Chart width in pixels; wider shows long tracks in more detail.")),
                io.Int.Input("height", default=512, min=192, max=4096, step=8, tooltip=(
                    "Chart height in pixels (three panels share it).")),
            ],
            outputs=[io.Image.Output("image", tooltip="A [1, H, W, 3] chart; connect it to Preview Image or Save "
                                                      "Image.")],
        )

    @classmethod
    def execute(cls, motion, width, height) -> io.NodeOutput:
        image = draw_motion_curves(motion, width, height)
        return io.NodeOutput(image.to(comfy_adapter.intermediate_device(), comfy_adapter.intermediate_dtype()))


NODES = (MoDiTSmoothMotion, MoDiTScaleExpression, MoDiTSaveMotion, MoDiTLoadMotion, MoDiTPreviewMotion)
