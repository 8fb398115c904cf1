"""3DMM extraction (paper §3.1): MoDiT Extract 3DMM."""
from ..modit import comfy_adapter
from . import sockets
from .comfy_io import io


class MoDiTExtract3DMM(io.ComfyNode):
    """Source portrait -> MODIT_FACE (aligned crop, 468-point mesh, pose, beta_0, eye openness) + a preview."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTExtract3DMM",
            display_name="MoDiT Extract 3DMM",
            category="MoDiT/face",
            description=("Finds the face in the source portrait and measures what the paper's 3DMM step needs: an "
                         "aligned crop, a 468-point 3D mesh, head pose, the source expression beta_0 and how open "
                         "each eye is."),
            inputs=[
                io.Image.Input("image", tooltip="The source portrait; only the first frame of a batch is used. Any "
                                                "size, RGB, RGBA (alpha dropped) or grayscale."),
                io.Int.Input("face_index", default=-1, min=-1, max=31, tooltip=(
                    "Which face to animate: -1 = the largest (where another is about as large, as in an "
                    "interview's split screen, the log says which one moves), 0, 1, ... = counted left to right. "
                    "A number also searches 2x2 and 3x3 tiles so small faces in a group photo count (about 1 s "
                    "more); the error lists how many were found.")),
                io.Float.Input("min_score", default=0.5, min=0.05, max=1.0, step=0.01, tooltip=(
                    "BlazeFace detection threshold. Lower it to accept small, dark or turned faces (more false "
                    "detections); no effect on cost.")),
                io.Float.Input("margin", default=0.4, min=0.0, max=1.5, step=0.05, tooltip=(
                    "Crop border around the face on each side, as a fraction of the face size. More keeps hair and "
                    "neck in the animated crop; the crop stays 512 px, so the face gets fewer pixels.")),
                io.Combo.Input("detector", options=["auto", "short", "full"], default="auto", tooltip=(
                    "'short' suits close-up portraits; 'full' finds farther / smaller faces but is slower; 'auto' "
                    "tries short first, then full.")),
                sockets.FaceLandmarks.Input("face_landmarks", optional=True, tooltip=(
                    "Optional: core MediaPipe Face Landmarker output; its face (frame 0) replaces our detection "
                    "step.")),
            ],
            outputs=[
                sockets.Face.Output("face", tooltip="The analysed source face for the motion samplers and renderers."),
                io.Image.Output("preview", tooltip="The aligned face crop with mesh dots, irises, pose axes and eye "
                                                   "openness / jaw text."),
            ],
        )

    @classmethod
    def execute(cls, image, face_index, min_score, margin, detector, face_landmarks=None) -> io.NodeOutput:
        from ..modit.face.analysis import analyse_portrait, preview

        face = analyse_portrait(image, face_index=face_index, min_score=min_score, margin=margin,
                                detector=detector, face_landmarks=face_landmarks)
        shown = preview(face)[None].to(comfy_adapter.intermediate_device(), comfy_adapter.intermediate_dtype())
        return io.NodeOutput(face, shown)


NODES = (MoDiTExtract3DMM,)
