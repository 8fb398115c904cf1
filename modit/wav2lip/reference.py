"""The lip reference of MoDiT (paper §3.4.5, Figure 5): Wav2Lip run over the face crop, frame by frame.

For video frame i, Wav2Lip sees the 0.2 s mel window that starts at frame i (16 mel frames at 80 per second,
Wav2Lip's inference rule) and the face box of frame i, and redraws the mouth. The results are pasted back into the
crop, so reference frame i is aligned both with the face crop (same pixels, same box) and with audio frame i.
"""
import logging

import torch

from .. import comfy_adapter
from ..chunks import run_in_chunks
from .face_crop import FaceBox, crop_faces, paste_faces, rgb_to_bgr, wav2lip_input

log = logging.getLogger(__name__)


def lip_sync(network, frames: torch.Tensor, mel, box: FaceBox, *, batch_size: int,
             device: torch.device, dtype: torch.dtype, blend: str = "feathered",
             progress: comfy_adapter.Progress | None = None) -> torch.Tensor:
    """Wav2Lip over a clip, in batches on `device`: the lip-synced frames [T, S, S, 3] RGB 0..1.

    network: a Wav2Lip (encode_face / decode) on `device` in `dtype`. frames: [T, S, S, 3] or [1, S, S, 3] RGB
    0..1, one frame (a still face crop) being used for every mel window. mel: [T, 80, 16] windows, a tensor or
    audio.lip_windows.MelWindows (built batch by batch, so a long clip never holds them all). box: the face
    box in the frames' pixels. The result is allocated on the intermediate device in the intermediate dtype, so
    device memory stays at one batch however long the clip is.
    """
    T = mel.shape[0]
    if frames.shape[0] not in (1, T):
        raise ValueError(f"frames: expected 1 or {T} frames (one per mel window), got {frames.shape[0]}")
    out = torch.empty((T, *frames.shape[1:]), dtype=comfy_adapter.intermediate_dtype(),
                      device=comfy_adapter.intermediate_device())
    still = frames.shape[0] == 1
    still_frame = skips = None
    if still:  # the face input is the same for every frame, so the face encoder runs once
        with torch.inference_mode():
            still_frame = frames.to(device, torch.float32)
            skips = network.encode_face(wav2lip_input(crop_faces(still_frame, box)).to(dtype))

    def work(start: int, stop: int) -> None:
        with torch.inference_mode():
            batch = still_frame if still else frames[start:stop].to(device, torch.float32)
            synced = _sync_batch(network, batch, mel[start:stop], box, skips, device, dtype, blend)
        out[start:stop] = synced.to(out.device, out.dtype)

    run_in_chunks(T, batch_size, work, "Wav2Lip",
                  None if progress is None else lambda start, stop: progress.update(stop - start, preview=out[stop - 1]))
    return out


def _sync_batch(network, frames: torch.Tensor, mel: torch.Tensor, box: FaceBox, skips, device, dtype, blend):
    """One batch: frames [b or 1, S, S, 3] float32 on device, mel [b, 80, 16] -> [b, S, S, 3] float32."""
    b = mel.shape[0]
    mel = mel.to(device, dtype).unsqueeze(1)  # [b, 1, 80, 16]
    if skips is None:
        skips = network.encode_face(wav2lip_input(crop_faces(frames, box)).to(dtype))
    faces = rgb_to_bgr(network.decode(mel, skips).float())  # Wav2Lip answers in BGR: [b, 3, 96, 96] RGB
    return paste_faces(frames.expand(b, -1, -1, -1), faces, box, blend)
