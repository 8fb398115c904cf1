"""The lip reference of MoDiT (paper §3.4.5, Figure 5): Wav2Lip run over the face crop, frame by frame.

For video frame i, Wav2Lip sees the 0.2 s mel window that starts at frame i (16 mel frames at 80 per second,
Wav2Lip's inference rule) and the face box of frame i, and redraws the mouth. The results are pasted back into the
crop, so reference frame i is aligned both with the face crop (same pixels, same box) and with audio frame i.
"""
import logging

import torch

from .. import comfy_adapter
from ..audio.mel import SAMPLE_RATE, log_mel_frames, mel_windows, num_mel_frames
from ..audio.resample import resample
from ..types import AudioFeatures
from .face_crop import FaceBox, crop_faces, paste_faces, rgb_to_bgr, wav2lip_input
from .network import MEL_BINS, MEL_STEPS

log = logging.getLogger(__name__)

MEL_CHUNK = 2400  # mel frames (30 s) per STFT pass: bounds the spectrogram temporaries for long audio


def mel_windows_for(audio: AudioFeatures) -> torch.Tensor:
    """Wav2Lip's mel windows [T, 80, 16] float32 for the T frames of `audio`, whatever its feature kind.

    Computed from the aligned waveform that AudioFeatures always carries, so HuBERT, "mel80" or any other kind
    works. Window i starts at frame i's own time (Wav2Lip's inference rule, 80 / fps mel frames per video frame);
    at the end the last mel frame is repeated ("clamp") rather than shifting the window back as Wav2Lip's loop
    does, so every window stays at its frame's time.
    """
    waveform = audio.waveform.float().cpu()  # [S]
    if audio.sample_rate != SAMPLE_RATE:
        waveform = resample(waveform, audio.sample_rate, SAMPLE_RATE)
    M = num_mel_frames(waveform.shape[0])
    mel = torch.cat([log_mel_frames(waveform, a, min(a + MEL_CHUNK, M)) for a in range(0, M, MEL_CHUNK)], 1)  # [80, M]
    windows = mel_windows(mel, audio.num_frames, audio.fps, rule="wav2lip", edge="clamp")  # [T, 80, 16]
    if tuple(windows.shape) != (audio.num_frames, MEL_BINS, MEL_STEPS):
        raise RuntimeError(f"mel_windows returned {tuple(windows.shape)}, expected "
                           f"({audio.num_frames}, {MEL_BINS}, {MEL_STEPS})")
    return windows


def lip_sync(network, frames: torch.Tensor, mel: torch.Tensor, box: FaceBox, *, batch_size: int,
             device: torch.device, dtype: torch.dtype, blend: str = "feathered",
             progress: comfy_adapter.Progress | None = None) -> torch.Tensor:
    """Wav2Lip over a clip, in batches on `device`: the lip-synced frames [T, S, S, 3] RGB 0..1.

    network: a Wav2Lip (encode_face / decode) on `device` in `dtype`. frames: [T, S, S, 3] or [1, S, S, 3] RGB
    0..1, one frame (a still face crop) being used for every mel window. mel: [T, 80, 16] windows. box: the face
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
    start = 0
    while start < T:
        stop = min(start + batch_size, T)
        try:
            with torch.inference_mode():
                batch = still_frame if still else frames[start:stop].to(device, torch.float32)
                synced = _sync_batch(network, batch, mel[start:stop], box, skips, device, dtype, blend)
        except RuntimeError as error:  # torch.OutOfMemoryError is a RuntimeError
            if not comfy_adapter.is_oom(error) or batch_size == 1:
                raise
            # halve and keep the smaller size: the next batches have the same shapes, so the same limit
            batch_size = max(batch_size // 2, 1)
            comfy_adapter.soft_empty_cache()
            log.warning("Wav2Lip: out of memory, retrying with batch size %d", batch_size)
            continue
        out[start:stop] = synced.to(out.device, out.dtype)
        log.debug("Wav2Lip: frames %d..%d of %d", start, stop, T)
        if progress is not None:
            progress.update(stop - start, preview=out[stop - 1])
        start = stop
    return out


def _sync_batch(network, frames: torch.Tensor, mel: torch.Tensor, box: FaceBox, skips, device, dtype, blend):
    """One batch: frames [b or 1, S, S, 3] float32 on device, mel [b, 80, 16] -> [b, S, S, 3] float32."""
    b = mel.shape[0]
    mel = mel.to(device, dtype).unsqueeze(1)  # [b, 1, 80, 16]
    if skips is None:
        skips = network.encode_face(wav2lip_input(crop_faces(frames, box)).to(dtype))
    faces = rgb_to_bgr(network.decode(mel, skips).float())  # Wav2Lip answers in BGR: [b, 3, 96, 96] RGB
    return paste_faces(frames.expand(b, -1, -1, -1), faces, box, blend)
