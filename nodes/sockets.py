"""The socket types the pack's nodes pass between them (declared once, as core does for its own models).

Each carries one of the library's stage values (modit/types.py says what is inside):
AudioEncoder -> AudioEncoder handle, AudioFeatures -> AudioFeatures, Face -> Face, Motion -> Motion,
DiTModel -> DiTHandle, Wav2LipModel -> Wav2LipModel. FaceLandmarks is core MediaPipe Face Landmarker's output.
"""
from ..modit.types import (MODIT_AUDIO_ENCODER, MODIT_AUDIO_FEATURES, MODIT_DIT_MODEL, MODIT_FACE, MODIT_MOTION,
                           MODIT_WAV2LIP_MODEL)
from .comfy_io import io

AudioEncoder = io.Custom(MODIT_AUDIO_ENCODER)
AudioFeatures = io.Custom(MODIT_AUDIO_FEATURES)
Face = io.Custom(MODIT_FACE)
Motion = io.Custom(MODIT_MOTION)
DiTModel = io.Custom(MODIT_DIT_MODEL)
Wav2LipModel = io.Custom(MODIT_WAV2LIP_MODEL)
FaceLandmarks = io.Custom("FACE_LANDMARKS")
