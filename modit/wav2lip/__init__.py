"""Wav2Lip lip reference (paper §3.4.5) in the public checkpoint layout.

What the renderer gets (MoDiT Wav2Lip Reference -> IMAGE "lip_reference"):

* [T, S, S, 3] RGB float 0..1, T = the AudioFeatures frame count, S = the face crop size (Face.crop), or the side
  of the `frames` that were dubbed. Frame i belongs to audio frame i = [i / fps, (i + 1) / fps): it was generated
  from the 0.2 s mel window starting at i / fps.
* Pixel (x, y) of a reference frame is pixel (x, y) of the face crop: the same coordinates as Face.landmarks, so
  the mouth landmarks (e.g. the MediaPipe lip contour) index straight into it, and Face.crop_to_image maps it
  onto the portrait.
* Only the face box is changed: face_crop.face_box(face.landmarks, S, pads) (the face oval's extent, 10 px more
  below the chin by default). With blend "feathered" (default) only the box's lower half is Wav2Lip's (full weight
  from 62 % of the box height down, fading out over the last 6 % at the sides and bottom); above the box's middle
  the crop is untouched. With blend "box" the whole box is Wav2Lip's 96x96 output, resized.
* Wav2Lip works at 96x96, so the mouth is soft at large S: use it as a reference for shape and teeth, not as
  final pixels.

Modules: network.py (the generator), checkpoint.py (public .pth / safetensors loading and checks), face_crop.py
(box, 96x96 BGR input, paste-back), reference.py (the batched loop; its mel windows come from audio/lip_windows.py), model.py (the Wav2LipModel handle).
"""
