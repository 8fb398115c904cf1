"""Embedded MediaPipe face stack (paper §3.1 face analysis): BlazeFace detection, Face Mesh and Iris in PyTorch.

Ported from Google's MediaPipe .tflite models (Apache-2.0) by scripts/convert_mediapipe.py; the runtime never
imports tensorflow, tflite or mediapipe. Use the handle:

    stack = FaceStack.load()
    faces = stack.detect(image)                  # image [H, W, 3] in 0..1 -> [Detection], largest first
    result = stack.landmarks(image, faces[0])    # mesh [468, 3], eye contours, irises in image px
    landmarks, presence = stack.mesh(crops)      # raw Face Mesh on [B, 192, 192, 3] crops
    contour, iris = stack.iris(eye_crops)        # raw Iris on [B, 64, 64, 3] eye crops
"""
from .roi import EYE_CONTOUR_MESH_INDICES, EYE_CORNERS, Region, crop_region, eye_region, face_region, to_image
from .stack import DETECTOR_CHOICES, Detection, FaceLandmarks, FaceStack, letterbox

__all__ = ["DETECTOR_CHOICES", "EYE_CONTOUR_MESH_INDICES", "EYE_CORNERS", "Detection", "FaceLandmarks", "FaceStack",
           "Region", "crop_region", "eye_region", "face_region", "letterbox", "to_image"]
