"""The Wav2Lip handle (paper §3.4.5): one loaded checkpoint, wrapped for ComfyUI's memory manager.

Nodes hold a Wav2LipModel (socket type MODIT_WAV2LIP_MODEL) and call `lip_reference`; they never touch the
network. The handle is never changed after loading: per-run options are arguments.
"""
import logging
import os

import torch

from .. import comfy_adapter
from ..types import AudioFeatures, Face
from .checkpoint import load_wav2lip
from .face_crop import DEFAULT_PADS, face_box
from .network import Wav2Lip
from ..audio.lip_windows import MelWindows
from .reference import lip_sync

log = logging.getLogger(__name__)

# Peak network activations per frame of a batch at fp32 (skips + ~200 live channels at 96x96), with margin; the
# frames themselves add about 4 float32 copies of [S, S, 3] each (input, expanded, pasted, blended).
_NETWORK_BYTES_PER_FRAME_FP32 = 12 * 1024 * 1024
_FRAME_COPIES = 4


class Wav2LipModel:
    """A loaded Wav2Lip generator: the lip reference for the renderer."""

    def __init__(self, network: Wav2Lip, name: str, dtype: torch.dtype, load_device: torch.device | None = None):
        self.name = name
        self.dtype = dtype
        self._patcher = comfy_adapter.make_patcher(network.to(dtype), load_device=load_device)

    @classmethod
    def from_file(cls, path: str, dtype: str = "auto") -> "Wav2LipModel":
        """Load wav2lip.pth / wav2lip_gan.pth (or a safetensors copy); dtype is a DTYPE_CHOICES name."""
        device = comfy_adapter.compute_device()
        torch_dtype = comfy_adapter.resolve_dtype(dtype, device)
        return cls(load_wav2lip(path, torch_dtype), os.path.basename(path), torch_dtype, device)

    @property
    def load_device(self) -> torch.device:
        return torch.device(self._patcher.load_device)

    def lip_reference(self, face: Face, audio: AudioFeatures, frames: torch.Tensor | None = None,
                      batch_size: int = 32, pads: tuple[int, int, int, int] = DEFAULT_PADS,
                      blend: str = "feathered") -> torch.Tensor:
        """Lip-synced mouth reference frames [T, S, S, 3] RGB 0..1, aligned to the face crop and to audio's frames.

        face: the analysed portrait; its crop is dubbed, or `frames` ([T or 1, N, N, 3] RGB 0..1 square crops in
        the face crop's frame, e.g. a pose-only render) when given, then the output is [T, N, N, 3]. The face
        box comes from face.landmarks (face oval, padded by pads = (top, bottom, left, right) crop pixels).
        """
        T = audio.num_frames
        source = face.crop.unsqueeze(0) if frames is None else frames  # [1 or T, N, N, 3]
        box = face_box(face.landmarks, face.crop_size, pads).rescaled(source.shape[1])
        mel = MelWindows(audio, torch.device("cpu"))  # [T, 80, 16], built per batch (the network moves them)
        itemsize = torch.empty((), dtype=self.dtype).element_size()
        per_frame = _NETWORK_BYTES_PER_FRAME_FP32 * itemsize // 4 + _FRAME_COPIES * source[0].numel() * 4
        memory = min(batch_size, T) * per_frame
        comfy_adapter.load_models([self._patcher], memory_required=memory)
        log.info("Wav2Lip %s: %d frames at %s px, box %dx%d, on %s in %s", self.name, T, source.shape[1],
                 box.width, box.height, self.load_device, self.dtype)
        return lip_sync(self._patcher.model, source, mel, box, batch_size=batch_size, device=self.load_device,
                        dtype=self.dtype, blend=blend, progress=comfy_adapter.Progress(T))
