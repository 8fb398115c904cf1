"""3DMM extraction (paper §3.1): MoDiT Extract 3DMM."""
from ..modit import comfy_adapter
from ..modit.types import MODIT_FACE


class MoDiTExtract3DMM:
    """Source portrait -> MODIT_FACE (aligned crop, 468-point mesh, pose, beta_0, eye openness) + a preview."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The source portrait; only the first frame of a batch is used. Any "
                                               "size, RGB, RGBA (alpha dropped) or grayscale."}),
                "face_index": ("INT", {"default": -1, "min": -1, "max": 31, "tooltip":
                                       "Which face to animate: -1 = the largest, 0, 1, ... = counted left to right. "
                                       "A number also searches 2x2 and 3x3 tiles so small faces in a group "
                                       "photo count (about 1 s more); the error lists how many were found."}),
                "min_score": ("FLOAT", {"default": 0.5, "min": 0.05, "max": 1.0, "step": 0.01, "tooltip":
                                        "BlazeFace detection threshold. Lower it to accept small, dark or turned "
                                        "faces (more false detections); no effect on cost."}),
                "margin": ("FLOAT", {"default": 0.4, "min": 0.0, "max": 1.5, "step": 0.05, "tooltip":
                                     "Crop border around the face on each side, as a fraction of the face size. "
                                     "More keeps hair and neck in the animated crop; the crop stays 512 px, so "
                                     "the face gets fewer pixels."}),
                "detector": (["auto", "short", "full"], {"default": "auto", "tooltip":
                             "'short' suits close-up portraits; 'full' finds farther / smaller faces but is slower; "
                             "'auto' tries short first, then full."}),
            },
            "optional": {
                "face_landmarks": ("FACE_LANDMARKS", {"tooltip": "Optional: core MediaPipe Face Landmarker output; "
                                                                 "its face (frame 0) replaces our detection step."}),
            },
        }

    RETURN_TYPES = (MODIT_FACE, "IMAGE")
    RETURN_NAMES = ("face", "preview")
    OUTPUT_TOOLTIPS = ("The analysed source face for the motion samplers and renderers.",
                       "The aligned face crop with mesh dots, irises, pose axes and eye openness / jaw text.")
    FUNCTION = "extract"
    CATEGORY = "MoDiT/face"
    DESCRIPTION = ("Finds the face in the source portrait and measures what the paper's 3DMM step needs: an aligned "
                   "crop, a 468-point 3D mesh, head pose, the source expression beta_0 and how open each eye is.")

    def extract(self, image, face_index, min_score, margin, detector, face_landmarks=None):
        from ..modit.face.analysis import analyse_portrait, preview

        face = analyse_portrait(image, face_index=face_index, min_score=min_score, margin=margin,
                                detector=detector, face_landmarks=face_landmarks)
        shown = preview(face)[None].to(comfy_adapter.intermediate_device(), comfy_adapter.intermediate_dtype())
        return (face, shown)


NODE_CLASS_MAPPINGS = {"MoDiTExtract3DMM": MoDiTExtract3DMM}
NODE_DISPLAY_NAME_MAPPINGS = {"MoDiTExtract3DMM": "MoDiT Extract 3DMM"}
