"""Blink mapping and head motion (paper §3.4.4): MoDiT Blink & Pose."""
import logging

from ..modit import comfy_adapter
from ..modit.blink.blink_pose import HEAD_MOTION_MODES, add_blink_and_pose, check_alignment
from ..modit.blink.mapping_net import BlinkMappingModel
from ..modit.blink.reference import REFERENCE_USES, measure_reference
from ..modit.motion_curves import motion_ui
from . import sockets
from .comfy_io import io

log = logging.getLogger(__name__)

STATISTICAL = "statistical"


def _pose_models() -> list[str]:
    """'statistical' plus mapping-net checkpoints in models/modit (files with 'blink' in their name)."""
    return [STATISTICAL] + [name for name in comfy_adapter.list_models(comfy_adapter.MODEL_FOLDER)
                            if "blink" in name.lower() and name.lower().endswith((".safetensors", ".sft"))]


class MoDiTBlinkPose(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTBlinkPose",
            display_name="MoDiT Blink & Pose",
            category="MoDiT/motion",
            description=("Fills a motion track's eye closure and head pose: natural blinks drawn from human blink "
                         "statistics and smooth head motion that follows the speech, both repeatable per seed. "
                         "Expression is passed through unchanged."),
            inputs=[
                sockets.Motion.Input("motion", tooltip="Motion from a sampler; its expression is kept, its pose and "
                                                       "eye closure are replaced."),
                sockets.Face.Input("face", tooltip="The analysed source portrait the motion will drive."),
                sockets.AudioFeatures.Input("audio_features", tooltip=(
                    "The audio features that drove the sampler; their loudness sets how much the head moves "
                    "(silence = calm). Must have the motion's frame count and fps.")),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Same seed, same blinks and head motion. Costs nothing."),
                io.Float.Input("blink_rate", default=17.0, min=0.0, max=60.0, step=0.5, tooltip=(
                    "Blinks per minute; people talking blink 15-20 times a minute. 0 = never blink.")),
                io.Combo.Input("head_motion", options=list(HEAD_MOTION_MODES), default="natural", tooltip=(
                    "natural: slow sway plus speech-driven moves and nods; still: the head keeps the source pose "
                    "(blinks continue).")),
                io.Float.Input("pose_amount", default=1.0, min=0.0, max=3.0, step=0.05, tooltip=(
                    "Scales head motion: 1 = as much as real speakers' heads move (turns, nods and tilts of 2-3 "
                    "degrees, measured on 40 speakers; yaw a little less), about 0.3 = the calmer head of earlier "
                    "versions, 0 = still. Above about 1.2 a turn can pass 15 degrees, where the near ear stretches and "
                    "the far cheek's edge shows as a thin line. A "
                    "portrait already turned past 15 degrees gets less turning (0.4 of it from 30 degrees), except "
                    "from reference_frames, whose motion is taken as it is.")),
                io.Combo.Input("pose_model", options=_pose_models(), default=STATISTICAL, advanced=True, tooltip=(
                    "statistical needs no weights. A blink mapping-net checkpoint from models/modit (file name "
                    "containing 'blink') predicts pose from expression and blinks instead; it loads in well under "
                    "a second.")),
                io.Image.Input("reference_frames", optional=True, tooltip=(
                    "Frames of a driving video (at the motion's fps): their head pose and blinks are measured with "
                    "the face stack and transferred; shorter clips play back and forth. Costs one face analysis "
                    "per frame.")),
                io.Combo.Input("reference_use", options=list(REFERENCE_USES), default=REFERENCE_USES[0],
                               optional=True,
                               tooltip="What the reference frames drive when connected; the rest stays statistical."),
            ],
            outputs=[sockets.Motion.Output("motion", tooltip="The input motion with pose [T, 6] and eye closure "
                                                             "[T, 2] filled in.")],
        )

    @classmethod
    def execute(cls, motion, face, audio_features, seed, blink_rate, head_motion, pose_amount, pose_model,
                reference_frames=None, reference_use=REFERENCE_USES[0]) -> io.NodeOutput:
        check_alignment(motion, audio_features)  # before any model load or face analysis
        mapping = None
        if pose_model != STATISTICAL:
            mapping = BlinkMappingModel.from_file(comfy_adapter.model_path(comfy_adapter.MODEL_FOLDER, pose_model))
        reference = measure_reference(reference_frames) if reference_frames is not None else None
        result = add_blink_and_pose(motion, audio_features, face, seed=seed, blink_rate=blink_rate,
                                    head_motion=head_motion, pose_amount=pose_amount, mapping=mapping,
                                    reference=reference, reference_use=reference_use)
        return io.NodeOutput(result, ui=motion_ui(result))


NODES = (MoDiTBlinkPose,)
