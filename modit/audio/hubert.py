"""HuBERT / wav2vec2 audio latents (paper §3.2 uses hubert-base-ls960) through `transformers`, from user weights.

Accepted layouts, in models/audio_encoders or models/modit:
  * a folder written by `save_pretrained` (config.json with model_type "hubert" or "wav2vec2", plus
    model.safetensors or pytorch_model.bin), e.g. a copy of facebook/hubert-base-ls960;
  * one .safetensors file holding that model's state dict (optionally under "hubert." / "wav2vec2." /
    "model."). Its config is read from the tensor shapes: widths, depth, conv stack, positional conv and
    norm style. The head count is not in the shapes: hidden / 64 (12 for base, 16 for large).

Both models emit one vector per 320 samples at 16 kHz (50 Hz); vector n sees samples [320 n, 320 n + 400), so
its centre is at (320 n + 200) / 16000 s. Transformers attend over the whole input, so long audio runs in
windows of `CHUNK_SECONDS` with `CONTEXT_SECONDS` of extra audio each side whose outputs are dropped;
recordings shorter than one window are encoded in one pass.
"""
import json
import logging
import os

import torch

from ..checkpoints import load_checkpoint, strip_prefix

log = logging.getLogger(__name__)

HOP = 320  # samples per output vector at 16 kHz (product of the conv strides)
RECEPTIVE = 400  # samples seen by one output vector
RATE = 16000 / HOP  # 50 vectors per second
T0 = (RECEPTIVE / 2) / 16000  # centre of vector 0, seconds
CHUNK_SECONDS = 20.0
CONTEXT_SECONDS = 2.0
KINDS = ("hubert", "wav2vec2")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def num_vectors(num_samples: int) -> int:
    """Output vectors for num_samples of 16 kHz input (the standard conv stack); inputs are padded to 400."""
    return (max(num_samples, RECEPTIVE) - RECEPTIVE) // HOP + 1


def is_transformers_folder(path: str) -> bool:
    """True for a save_pretrained folder of a HuBERT / wav2vec2 model."""
    config = os.path.join(path, "config.json")
    if not os.path.isfile(config):
        return False
    try:
        with open(config, encoding="utf-8") as f:
            return json.load(f).get("model_type") in KINDS
    except (OSError, ValueError):
        return False


def looks_like_encoder_file(path: str) -> bool:
    """Cheap check (safetensors header only) that a file holds a HuBERT / wav2vec2 state dict."""
    if not path.lower().endswith((".safetensors", ".sft")):
        return False
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt") as f:
            keys = list(f.keys())
    except Exception:  # any unreadable or foreign file is simply not listed
        return False
    return any(k.endswith("encoder.pos_conv_embed.conv.bias") for k in keys) and \
        any("feature_extractor.conv_layers.0.conv.weight" in k for k in keys)


def _transformers():
    try:
        import transformers
    except ImportError as error:
        raise RuntimeError("MoDiT Load Audio Encoder: HuBERT needs the 'transformers' package; "
                           "pip install transformers (or use the built-in mel encoder)") from error
    return transformers


def load_encoder_model(path: str) -> tuple[torch.nn.Module, str, bool]:
    """(model in eval mode, kind "hubert" / "wav2vec2", normalise_input) from a folder or a single file.

    normalise_input: whether the model expects zero-mean, unit-variance input (its feature extractor's
    do_normalize; true for hubert-base-ls960).
    """
    name = os.path.basename(os.path.normpath(path))
    if os.path.isdir(path):
        return _load_folder(path, name)
    state_dict, metadata = load_checkpoint(path)
    return _load_state_dict(state_dict, metadata, name)


def _load_folder(path: str, name: str):
    transformers = _transformers()
    if not is_transformers_folder(path):
        raise ValueError(f"{name}: not a HuBERT / wav2vec2 folder: expected config.json with model_type 'hubert' "
                         f"or 'wav2vec2'; save the model with save_pretrained, or use a single .safetensors file")
    if not any(os.path.isfile(os.path.join(path, f)) for f in _WEIGHT_FILES):
        raise FileNotFoundError(f"{name}: config.json found but no weights ({' or '.join(_WEIGHT_FILES)}); "
                                f"copy the weight file into {path}")
    config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(path, local_files_only=True).eval()
    normalise = True
    preprocessor = os.path.join(path, "preprocessor_config.json")
    if os.path.isfile(preprocessor):
        with open(preprocessor, encoding="utf-8") as f:
            normalise = bool(json.load(f).get("do_normalize", True))
    log.info("audio encoder %s: %s, %d layers, width %d", name, config.model_type, config.num_hidden_layers,
             config.hidden_size)
    return model, config.model_type, normalise


def _config_from_shapes(sd: dict, kind: str, name: str) -> dict:
    """HubertConfig / Wav2Vec2Config fields read off a state dict's shapes."""
    try:
        hidden = sd["encoder.layer_norm.weight"].shape[0]
        pos_weight = sd.get("encoder.pos_conv_embed.conv.parametrizations.weight.original1",
                            sd.get("encoder.pos_conv_embed.conv.weight_v"))
        conv = [sd[f"feature_extractor.conv_layers.{i}.conv.weight"]
                for i in range(len([k for k in sd if k.startswith("feature_extractor.conv_layers.")
                                    and k.endswith(".conv.weight")]))]
        layers = len({k.split(".")[2] for k in sd if k.startswith("encoder.layers.")})
        intermediate = sd["encoder.layers.0.feed_forward.intermediate_dense.weight"].shape[0]
    except (KeyError, IndexError) as error:
        raise ValueError(f"{name}: not a HuBERT / wav2vec2 state dict: missing {error}; expected keys such as "
                         f"'feature_extractor.conv_layers.0.conv.weight' and 'encoder.layers.0.*'") from None
    if pos_weight is None:
        raise ValueError(f"{name}: no positional conv weights (encoder.pos_conv_embed.conv.weight_v or "
                         f"parametrizations.weight.original1); is this a HuBERT / wav2vec2 checkpoint?")
    kernels = tuple(int(w.shape[-1]) for w in conv)
    if kernels != (10, 3, 3, 3, 3, 2, 2):
        raise ValueError(f"{name}: unexpected conv stack kernels {kernels}; expected (10, 3, 3, 3, 3, 2, 2) "
                         f"as in hubert-base-ls960; use a save_pretrained folder with its config.json instead")
    layer_norm_convs = "feature_extractor.conv_layers.1.layer_norm.weight" in sd
    return dict(
        hidden_size=int(hidden), num_hidden_layers=layers, intermediate_size=int(intermediate),
        num_attention_heads=max(1, int(hidden) // 64),
        conv_dim=tuple(int(w.shape[0]) for w in conv), conv_kernel=kernels, conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_bias="feature_extractor.conv_layers.0.conv.bias" in sd,
        feat_extract_norm="layer" if layer_norm_convs else "group",
        do_stable_layer_norm=layer_norm_convs,  # the "layer" conv variants (large, xlarge) use pre-norm blocks
        num_conv_pos_embeddings=int(pos_weight.shape[-1]),
        num_conv_pos_embedding_groups=int(hidden) // int(pos_weight.shape[1]),
        **({"feat_proj_layer_norm": "feature_projection.layer_norm.weight" in sd} if kind == "hubert" else {}),
    )


def _load_state_dict(state_dict: dict, metadata: dict, name: str):
    transformers = _transformers()
    kind = "wav2vec2" if any(k.startswith("wav2vec2.") for k in state_dict) else "hubert"
    if isinstance(metadata.get("model_type"), str) and metadata["model_type"] in KINDS:
        kind = metadata["model_type"]
    sd = state_dict
    for prefix in ("hubert.", "wav2vec2.", "model."):
        sd = strip_prefix(sd, prefix)
    # Weight norm is stored as weight_g / weight_v by older torch, as parametrizations by newer.
    renames = {"encoder.pos_conv_embed.conv.weight_g": "encoder.pos_conv_embed.conv.parametrizations.weight.original0",
               "encoder.pos_conv_embed.conv.weight_v": "encoder.pos_conv_embed.conv.parametrizations.weight.original1"}
    sd = {renames.get(k, k): v for k, v in sd.items()}
    fields = _config_from_shapes(sd, kind, name)
    if kind == "hubert":
        model = transformers.HubertModel(transformers.HubertConfig(**fields))
    else:
        model = transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(**fields))
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd and k != "masked_spec_embed"]
    if missing:
        raise ValueError(f"{name}: not a complete {kind} state dict: missing {len(missing)} keys, e.g. {missing[:3]}; "
                         f"put the full hubert-base-ls960 weights in models/audio_encoders")
    bad = [f"{k} {tuple(sd[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
           if k in sd and tuple(sd[k].shape) != tuple(v.shape)]
    if bad:
        raise ValueError(f"{name}: {kind} weights have unexpected shapes: {bad[:3]}")
    unused = [k for k in sd if k not in expected]
    if unused:
        log.debug("%s: ignoring %d keys not used for encoding (e.g. %s)", name, len(unused), unused[:3])
    model.load_state_dict({k: v for k, v in sd.items() if k in expected}, strict=False)
    log.info("audio encoder %s: %s, %d layers, width %d (config read from shapes)", name, kind,
             fields["num_hidden_layers"], fields["hidden_size"])
    return model.eval(), kind, True


class EncoderCurve:
    """HuBERT / wav2vec2 hidden states of a 16 kHz waveform as a Curve (alignment.py), computed in windows."""

    rate = RATE
    t0 = T0

    def __init__(self, model: torch.nn.Module, waveform_16k: torch.Tensor, normalise: bool, dtype: torch.dtype,
                 chunk_seconds: float = CHUNK_SECONDS, context_seconds: float = CONTEXT_SECONDS):
        self.model = model
        self.dtype = dtype
        self.dim = int(model.config.hidden_size)
        x = waveform_16k.float()
        if normalise:  # statistics of the whole recording, so every window sees the same scaling
            x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)
        if x.shape[0] < RECEPTIVE:
            x = torch.nn.functional.pad(x, (0, RECEPTIVE - x.shape[0]))
        self.waveform = x  # [S16]
        self.length = num_vectors(x.shape[0])
        self.chunk = max(1, int(chunk_seconds * RATE))  # vectors per window
        self.context = max(0, int(context_seconds * RATE))
        self._cache = None  # (window index, [n, D]) of the last window computed

    def vectors(self, start: int, stop: int) -> torch.Tensor:
        """Vectors [start, stop) as [n, D] float32.

        Windows sit on a fixed grid (multiples of `chunk` vectors), so a vector's value never depends on
        which range the caller asked for; the last window is cached because neighbouring frame chunks share it.
        """
        if self.length <= self.chunk + 2 * self.context:  # the whole recording fits: one exact pass
            return self._window(0, 0, self.length)[start:stop]
        pieces = []
        for w in range(start // self.chunk, (stop - 1) // self.chunk + 1):
            a, b = w * self.chunk, min((w + 1) * self.chunk, self.length)
            window = self._window(w, a, b)  # [b - a, D]
            pieces.append(window[max(start, a) - a:min(stop, b) - a])
        return torch.cat(pieces)

    def _window(self, index: int, a: int, b: int) -> torch.Tensor:
        if self._cache is not None and self._cache[0] == index:
            return self._cache[1]
        lo, hi = max(0, a - self.context), min(self.length, b + self.context)
        samples = self.waveform[lo * HOP:(hi - 1) * HOP + RECEPTIVE]  # exactly hi - lo output vectors
        with torch.inference_mode():
            hidden = self.model(samples.to(self.dtype).unsqueeze(0)).last_hidden_state[0]  # [hi - lo, D]
        result = hidden[a - lo:b - lo].float()
        self._cache = (index, result)
        return result
