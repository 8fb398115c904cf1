"""Wav2Lip lip reference (paper §3.4.5): MoDiT Load Wav2Lip, MoDiT Wav2Lip Reference."""
import logging

from ..modit import comfy_adapter
from ..modit.types import AudioFeatures, Face
from ..modit.wav2lip.checkpoint import WHERE_TO_PUT
from ..modit.wav2lip.face_crop import BLEND_MODES, DEFAULT_PADS
from . import sockets
from .comfy_io import io

log = logging.getLogger(__name__)

CATEGORY = "MoDiT/lip reference"
FOLDERS = (comfy_adapter.WAV2LIP_FOLDER, comfy_adapter.MODEL_FOLDER)  # models/wav2lip first: other packs use it
NO_CHECKPOINT = "(no Wav2Lip checkpoint found: see tooltip)"


def wav2lip_choices() -> list[str]:
    """Checkpoint names from models/wav2lip and models/modit, files named like Wav2Lip first."""
    names = sorted({name for folder in FOLDERS for name in comfy_adapter.list_models(folder)})
    names.sort(key=lambda name: "wav2lip" not in name.lower())  # stable: keeps alphabetical order within groups
    return names or [NO_CHECKPOINT]


def resolve_checkpoint(name: str) -> str:
    """Full path of a dropdown entry; FileNotFoundError that says which file to put where."""
    if name == NO_CHECKPOINT:
        raise FileNotFoundError(f"MoDiT Load Wav2Lip: no checkpoint in models/wav2lip or models/modit; {WHERE_TO_PUT}. "
                                f"The lip reference is optional: without it, bypass this node and the renderer "
                                f"draws the mouth from the motion alone")
    for folder in FOLDERS:
        try:
            return comfy_adapter.model_path(folder, name)
        except FileNotFoundError:
            continue
    raise FileNotFoundError(f"MoDiT Load Wav2Lip: {name!r} is in neither models/wav2lip nor models/modit any more; "
                            f"{WHERE_TO_PUT}")


class MoDiTLoadWav2Lip(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTLoadWav2Lip",
            display_name="MoDiT Load Wav2Lip",
            category=CATEGORY,
            description=("Loads a Wav2Lip generator (wav2lip.pth or wav2lip_gan.pth, as other lip-sync packs use "
                         "them) from models/wav2lip or models/modit, for the lip reference that guides MoDiT's "
                         "renderer."),
            inputs=[
                io.Combo.Input("model_name", options=wav2lip_choices(), tooltip=(
                    f"Wav2Lip checkpoint (.pth or .safetensors, about 140 MB). wav2lip_gan.pth looks sharper, "
                    f"wav2lip.pth syncs slightly better. If the list is empty, {WHERE_TO_PUT}.")),
                io.Combo.Input("dtype", options=list(comfy_adapter.DTYPE_CHOICES), default="auto", tooltip=(
                    "Weight precision. auto: fp16/bf16 on GPUs that do it well (half the memory, faster), fp32 on "
                    "CPU. fp32 is the exact reference but slower on GPU.")),
            ],
            outputs=[sockets.Wav2LipModel.Output("wav2lip_model",
                                                 tooltip="The loaded Wav2Lip network, for MoDiT Wav2Lip Reference.")],
        )

    @classmethod
    def execute(cls, model_name: str, dtype: str) -> io.NodeOutput:
        from ..modit.wav2lip.model import Wav2LipModel

        return io.NodeOutput(Wav2LipModel.from_file(resolve_checkpoint(model_name), dtype))


class MoDiTWav2LipReference(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTWav2LipReference",
            display_name="MoDiT Wav2Lip Reference",
            category=CATEGORY,
            description=("Runs Wav2Lip on the face crop (or on frames to dub, such as a pose-only render) for every "
                         "audio frame and returns lip-synced frames aligned to the face crop: the mouth reference "
                         "for MoDiT Flow Render. Frame i matches audio frame i and the crop's pixels."),
            inputs=[
                sockets.Wav2LipModel.Input("wav2lip_model", tooltip="From MoDiT Load Wav2Lip."),
                sockets.Face.Input("face", tooltip="The analysed portrait: its face crop is dubbed and its face "
                                                   "mesh places Wav2Lip's face box."),
                sockets.AudioFeatures.Input("audio_features", tooltip=(
                    "Speech features of any kind: sets the frame count and fps; Wav2Lip's own mel windows are "
                    "computed from the 16 kHz audio they carry.")),
                io.Int.Input("batch_size", default=32, min=1, max=512, tooltip=(
                    "Frames per Wav2Lip pass. Larger is faster on a GPU and needs more memory (about 10 MB per "
                    "frame at fp16 and a 256 px crop); halved automatically on out-of-memory.")),
                io.Combo.Input("blend", options=list(BLEND_MODES), default="feathered", tooltip=(
                    "feathered: blend only Wav2Lip's generated lower face with a soft seam (upper face stays "
                    "sharp). box: overwrite the whole face box with the 96x96 result, as Wav2Lip's own inference "
                    "does (blurrier).")),
                io.Int.Input("pad_bottom", default=DEFAULT_PADS[1], min=-64, max=256, advanced=True, tooltip=(
                    "Pixels of the face crop added below the chin to Wav2Lip's face box (Wav2Lip's --pads bottom, "
                    "default 10). More keeps an open jaw inside the box; negative shrinks it.")),
                io.Image.Input("frames", optional=True, tooltip=(
                    "Square frames to dub instead of the still crop, e.g. a pose-only render in the face crop's "
                    "frame: 1 frame, or exactly as many as the audio has. Costs one face encoding per frame "
                    "instead of one in all.")),
            ],
            outputs=[io.Image.Output("lip_reference", tooltip=(
                "Lip-synced frames [T, S, S, 3] in the face crop's frame (S = crop size, or the size of 'frames'), "
                "one per audio frame: Wav2Lip's 96x96 mouth resized into the face box."))],
        )

    @classmethod
    def execute(cls, wav2lip_model, face: Face, audio_features: AudioFeatures, batch_size: int, blend: str,
                pad_bottom: int, frames=None) -> io.NodeOutput:
        T = audio_features.num_frames
        if frames is not None:
            if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[1] != frames.shape[2]:
                raise ValueError(f"frames: expected square RGB frames [B, N, N, 3], got {tuple(frames.shape)}; "
                                 f"crop them to the face crop first (MoDiT renders are already square)")
            if frames.shape[0] not in (1, T):
                raise ValueError(f"frames: expected 1 or {T} frames (the audio's frame count at "
                                 f"{audio_features.fps:g} fps), got {frames.shape[0]}; trim or repeat the batch "
                                 f"(core ImageFromBatch / RepeatImageBatch) or re-encode the audio")
        pads = (DEFAULT_PADS[0], pad_bottom, DEFAULT_PADS[2], DEFAULT_PADS[3])
        images = wav2lip_model.lip_reference(face, audio_features, frames=frames, batch_size=batch_size, pads=pads,
                                             blend=blend)
        return io.NodeOutput(images)


NODES = (MoDiTLoadWav2Lip, MoDiTWav2LipReference)
