"""Load the public Wav2Lip checkpoints (`wav2lip.pth`, `wav2lip_gan.pth`) into our Wav2Lip module (paper §3.4.5).

The public files are training snapshots: {"state_dict": {"module.<key>": tensor}, "optimizer": ..., "global_step":
..., "global_epoch": ...}, saved from a DataParallel model. We read them with torch.load(weights_only=True), take
"state_dict", drop the "module." prefix and check every key and shape against our module before loading strictly.
A safetensors file with the same keys (with or without the prefix) loads the same way.
"""
import logging
import os

import torch

from ..checkpoints import check_state_dict, load_checkpoint, strip_prefix
from .network import Wav2Lip

log = logging.getLogger(__name__)

CHECKPOINT_NAMES = ("wav2lip_gan.pth", "wav2lip.pth")
WHERE_TO_PUT = ("put wav2lip_gan.pth (better visual quality) or wav2lip.pth (best sync) from the Wav2Lip release "
                "(Rudrabha/Wav2Lip) in ComfyUI/models/wav2lip or ComfyUI/models/modit, then refresh the node list")

# Keys that identify the other files of the Wav2Lip release, which users mistake for the generator.
_LOOKALIKES = (
    ("audio_encoder.13.conv_block.0.weight", "the SyncNet lip-sync expert (lipsync_expert.pth), used only in training"),
    ("binary_pred.0.weight", "the visual quality discriminator (visual_quality_disc.pth), used only in training"),
    ("conv1_1.weight", "the S3FD face detector (s3fd.pth)"),
)


def expected_shapes() -> dict[str, tuple]:
    """{key: shape} of our Wav2Lip state dict (built on the meta device: no memory, no init cost)."""
    with torch.device("meta"):
        network = Wav2Lip()
    return {k: tuple(v.shape) for k, v in network.state_dict().items()}


def read_wav2lip_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The checked Wav2Lip state dict in `path` (.pth/.pt via weights_only, or .safetensors).

    Raises FileNotFoundError for a missing file and ValueError naming the file and the first mismatching keys
    for anything that is not a Wav2Lip generator checkpoint.
    """
    name = os.path.basename(path)
    state_dict, _ = load_checkpoint(path)  # unwraps {"state_dict": ...} and refuses pickled code
    state_dict = strip_prefix(state_dict, "module.")
    expected = expected_shapes()
    hint = WHERE_TO_PUT
    for key, what in _LOOKALIKES:
        if key in state_dict:
            hint = f"this looks like {what}; {WHERE_TO_PUT}"
    state_dict = _fill_batch_counters(state_dict, expected)
    check_state_dict(state_dict, expected, name, "Wav2Lip generator", hint=hint)
    return state_dict


def _fill_batch_counters(state_dict: dict, expected: dict) -> dict:
    """Add BatchNorm's num_batches_tracked where a converted file dropped it: it is a training counter that
    inference never reads, so its absence must not reject an otherwise complete checkpoint."""
    missing = [k for k in expected if k.endswith(".num_batches_tracked") and k not in state_dict]
    if not missing or not any(k.endswith(".running_mean") for k in state_dict):
        return state_dict
    filled = dict(state_dict)
    for key in missing:
        filled[key] = torch.zeros((), dtype=torch.long)
    return filled


def load_wav2lip(path: str, dtype: torch.dtype = torch.float32) -> Wav2Lip:
    """A Wav2Lip module in eval mode on the CPU in `dtype`, with the weights of `path` (see read_wav2lip_state_dict)."""
    state_dict = read_wav2lip_state_dict(path)
    with torch.device("meta"):  # no random init of 36 M weights that the checkpoint replaces anyway
        network = Wav2Lip()
    network.load_state_dict(state_dict, strict=True, assign=True)
    network.eval().requires_grad_(False)
    log.info("Wav2Lip: loaded %s (%d tensors) as %s", os.path.basename(path), len(state_dict), dtype)
    return network.to(dtype)
