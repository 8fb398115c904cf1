"""Flow rendering (paper §3.4.5): MoDiT Flow Render, MoDiT Render To Video."""
import os

from ..modit import comfy_adapter
from ..modit.render.frame_size import check_batch_fits, crop_to_encodable, render_size
from ..modit.render.renderer import MOUTH_STYLES, RenderOptions, render_frames
from ..modit.render.video import next_output_path, render_to_video, select_audio
from . import sockets
from .comfy_io import io

SIZES = ["source", "256", "384", "512", "768", "1024", "1536", "2048"]
PRESETS = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"]
CATEGORY = "MoDiT/render"
# The learned mouth (modit/render/mouth_net.py) on top of the cavity; its weights learned from real talking-head
# footage with research-use terms (NOTICE), which its name says.
LEARNED_MOUTH = "learned (research use)"
MOUTH_CHOICES = [*MOUTH_STYLES, LEARNED_MOUTH]


def _common_inputs() -> list:
    return [
        sockets.Face.Input("face", tooltip="The analysed source portrait (MoDiT Extract 3DMM); its image is warped."),
        sockets.Motion.Input("motion", tooltip="Per-frame expression, head pose and eye closure to render; one "
                                               "output frame per motion frame."),
        io.Combo.Input("output_size", options=SIZES, default="source", tooltip=(
            "'source' keeps the portrait's resolution; a number caps the longest side (smaller renders faster, "
            "never upscales). An odd width or height loses its last pixel row/column (H.264 needs even sizes), "
            "e.g. 640x959 -> 640x958.")),
        io.Float.Input("feather", default=0.5, min=0.0, max=1.0, step=0.05, tooltip=(
            "Width of the soft band around the head where the warp fades into the untouched background. Wider "
            "hides seams, narrower keeps more background still. No speed cost.")),
        io.Combo.Input("mouth_style", options=MOUTH_CHOICES, default="cavity", tooltip=(
            "'cavity' fills only the gap between the moving lips: the portrait's own teeth and mouth carried by "
            "each lip, and a shaded throat, teeth and tongue where it opens wider; the lips are never painted. "
            "'cavity (no teeth)' draws gums where the portrait shows no teeth of its own: for babies and toothless "
            "mouths. 'stretch' only warps. 'learned (research use)' is experimental: it refines the cavity's mouth "
            "with a small network trained on real talking-head clips (research-use terms, see NOTICE); by eye its "
            "open mouths are softer and hazier than 'cavity' and it can lighten lipstick. Without its weights it "
            "renders the cavity. Ignored where a mouth reference is connected.")),
        io.Int.Input("flow_resolution", default=128, min=48, max=512, step=16, advanced=True, tooltip=(
            "Longest side of the grid the flow is computed on over the head. Higher follows fine lip motion more "
            "closely; cost grows with its square.")),
    ]


def _reference_input() -> io.Input:
    return io.Image.Input("mouth_reference", optional=True, tooltip=(
        "Optional Wav2Lip frames (MoDiT Wav2Lip Reference), one per motion frame, full image or face crop: their "
        "mouth interior is used instead of the painted cavity."))


def _options(output_size: str, feather: float, mouth_style: str, flow_resolution: int) -> RenderOptions:
    if output_size not in SIZES:
        raise ValueError(f"output_size: expected one of {SIZES}, got {output_size!r}")
    if mouth_style not in MOUTH_CHOICES:
        raise ValueError(f"mouth_style: expected one of {MOUTH_CHOICES}, got {mouth_style!r}")
    max_side = 0 if output_size == "source" else int(output_size)
    mouth_net = None
    if mouth_style == LEARNED_MOUTH:
        from ..modit.render.mouth_net import load_refiner

        mouth_style, mouth_net = "cavity", load_refiner()
    return RenderOptions(max_side=max_side, feather=float(feather), mouth_style=mouth_style,
                         flow_resolution=int(flow_resolution), mouth_net=mouth_net)


def _check_motion(motion) -> None:
    if motion.num_frames == 0:
        raise ValueError("motion: has no frames; sample motion from audio of at least one frame")


class MoDiTFlowRender(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTFlowRender",
            display_name="MoDiT Flow Render",
            category=CATEGORY,
            description=("Animates the source portrait with the motion: warps it along a flow computed from the "
                         "driven face mesh (lips at full resolution; eyes and nose move only with the head), closes "
                         "eyelids, fills the mouth opening (or takes it from a Wav2Lip reference) and pastes the "
                         "head back into the full image. Returns all frames and the paste-back mask."),
            inputs=[*_common_inputs(), _reference_input()],
            outputs=[
                io.Image.Output("frames", tooltip=(
                    "Rendered frames [T, H, W, 3] at the chosen size, with H and W even so SaveVideo can encode "
                    "them (an odd side loses its last pixel); outside the mask they equal the source.")),
                io.Mask.Output("mask", tooltip="Per-frame paste-back mask [T, H, W]: 1 on the head, fading to 0 in "
                                               "the feather band."),
            ],
        )

    @classmethod
    def execute(cls, face, motion, output_size, feather, mouth_style, flow_resolution,
                mouth_reference=None) -> io.NodeOutput:
        _check_motion(motion)
        options = _options(output_size, feather, mouth_style, flow_resolution)
        height, width = render_size(face.image.shape[0], face.image.shape[1], options.max_side)
        check_batch_fits(motion.num_frames, height, width, comfy_adapter.intermediate_dtype(),
                         comfy_adapter.intermediate_device())
        frames, masks = render_frames(face, motion, options, mouth_reference)
        return io.NodeOutput(crop_to_encodable(frames), crop_to_encodable(masks))


class MoDiTRenderToVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTRenderToVideo",
            display_name="MoDiT Render To Video",
            category=CATEGORY,
            description=("Renders the motion straight into an mp4 (H.264 + AAC) in the output folder, chunk by "
                         "chunk, so long clips never sit in memory. Use it instead of Flow Render + Save Video for "
                         "long audio."),
            inputs=[
                *_common_inputs(),
                io.String.Input("filename_prefix", default="MoDiT/talking_head", tooltip=(
                    "File name prefix under the output folder (may include subfolders); a counter is added so "
                    "nothing is overwritten.")),
                io.Int.Input("crf", default=19, min=0, max=51, advanced=True, tooltip=(
                    "H.264 quality: lower is better and larger; 17-23 is visually good. No effect on speed.")),
                io.Combo.Input("preset", options=PRESETS, default="veryfast", advanced=True, tooltip=(
                    "x264 speed preset: faster presets encode quicker but make larger files at the same quality.")),
                sockets.AudioFeatures.Input("audio_features", optional=True, tooltip=(
                    "Audio features the motion was sampled from; their aligned audio becomes the soundtrack.")),
                io.Audio.Input("audio", optional=True, tooltip=(
                    "Soundtrack (used instead of the features' audio when connected); its length must give the "
                    "motion's frame count at the motion's fps.")),
                _reference_input(),
            ],
            outputs=[io.String.Output("path", tooltip="Full path of the written mp4.")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, face, motion, output_size, feather, mouth_style, flow_resolution, filename_prefix, crf,
                preset, audio_features=None, audio=None, mouth_reference=None) -> io.NodeOutput:
        _check_motion(motion)
        if preset not in PRESETS:
            raise ValueError(f"preset: expected one of {PRESETS}, got {preset!r}")
        options = _options(output_size, feather, mouth_style, flow_resolution)
        soundtrack = select_audio(motion, audio_features, audio)
        path, subfolder, name = next_output_path(comfy_adapter.output_directory(), filename_prefix)
        written = False
        try:
            render_to_video(face, motion, path, options, soundtrack, mouth_reference, crf=int(crf), preset=preset)
            written = True
        finally:
            # Failed or cancelled (ComfyUI's cancel is a BaseException, so no `except` here): the file under the
            # reserved name is ours and incomplete; left in the output folder it would pass for a finished clip.
            if not written and os.path.exists(path):
                os.remove(path)
        result = {"filename": name, "subfolder": subfolder, "type": "output"}
        return io.NodeOutput(path, ui={"images": [result], "animated": [True], "text": [path]})


NODES = (MoDiTFlowRender, MoDiTRenderToVideo)
