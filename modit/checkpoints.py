"""Checkpoint I/O: safetensors with metadata, `.pth` through weights_only, and key/shape checks that name the file.

Metadata values are strings in safetensors; we store each value JSON-encoded so dicts, lists and numbers
survive the round trip (`save_checkpoint` / `load_checkpoint`).
"""
import json
import logging
import os

import torch

log = logging.getLogger(__name__)

BUNDLED_WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")


def bundled_path(name: str) -> str:
    """Path of a weight file shipped with the pack (modit/weights/<name>)."""
    return os.path.join(BUNDLED_WEIGHTS_DIR, name)


def user_or_bundled(name: str) -> str | None:
    """models/modit/<name> if the user put one there, else the pack's own modit/weights/<name>; None if neither."""
    from . import comfy_adapter

    try:
        return comfy_adapter.model_path(comfy_adapter.MODEL_FOLDER, name)
    except FileNotFoundError:
        pass
    bundled = bundled_path(name)
    return bundled if os.path.isfile(bundled) else None


class LoadedOnce:
    """The last weights file loaded by `load(path)`, kept until another path or a newer file is asked for."""

    def __init__(self, load):
        self.load, self.key, self.value = load, None, None

    def get(self, path: str):
        key = (path, os.path.getmtime(path))
        if key != self.key:
            self.key, self.value = None, None  # the old one is released before the new one loads
            self.value, self.key = self.load(path), key
        return self.value


def save_checkpoint(path: str, state_dict: dict, metadata: dict | None = None) -> None:
    """Write tensors as safetensors with JSON-encoded metadata, atomically (never a half-written file)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    encoded = {k: json.dumps(v) for k, v in (metadata or {}).items()}
    tmp = f"{path}.partial"
    save_file(tensors, tmp, metadata=encoded)
    os.replace(tmp, path)


def load_checkpoint(path: str, device: str | torch.device = "cpu") -> tuple[dict, dict]:
    """Read (state_dict, metadata) from .safetensors/.sft or .pth/.pt/.ckpt/.bin (weights_only=True).

    Raises FileNotFoundError for a missing file and ValueError naming the file for one that cannot be read.
    """
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    ext = os.path.splitext(path)[1].lower()
    if ext in (".safetensors", ".sft"):
        from safetensors import safe_open

        try:
            with safe_open(path, framework="pt", device=str(device)) as f:
                raw = f.metadata() or {}
                state_dict = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as error:  # safetensors raises its own SafetensorError for a damaged header
            raise ValueError(f"{name}: not a readable safetensors file ({error})") from error
        return state_dict, {k: _decode(v) for k, v in raw.items()}
    if ext in (".pth", ".pt", ".ckpt", ".bin"):
        try:
            obj = torch.load(path, map_location=device, weights_only=True)
        except Exception as error:  # pickle / zip errors of many kinds; weights_only refuses code objects
            raise ValueError(f"{name}: cannot be read as a PyTorch weights file with weights_only=True "
                             f"({type(error).__name__}: {error}); convert it to .safetensors") from error
        return unwrap_state_dict(obj, name), {}
    raise ValueError(f"{name}: unsupported checkpoint extension {ext!r}; expected .safetensors or .pth")


def _decode(value: str):
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def unwrap_state_dict(obj, name: str = "checkpoint") -> dict:
    """Find the tensor dict inside a loaded .pth: {'state_dict': ...}, {'model': ...} or the dict itself."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                return unwrap_state_dict(obj[key], name)
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    raise ValueError(f"{name}: no state dict of tensors found (top-level keys: {_preview(obj)})")


def strip_prefix(state_dict: dict, prefix: str = "module.") -> dict:
    """Drop a DataParallel-style prefix from every key that has it."""
    if not any(k.startswith(prefix) for k in state_dict):
        return state_dict
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state_dict.items()}


def check_state_dict(state_dict: dict, expected: dict, name: str, what: str, hint: str = "") -> None:
    """Compare keys and shapes with `expected` ({key: shape}); ValueError naming the file and first mismatches."""
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong = [f"{k}: expected {tuple(expected[k])}, found {tuple(state_dict[k].shape)}"
             for k in expected if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k])]
    if not (missing or unexpected or wrong):
        return
    parts = []
    if missing:
        parts.append(f"missing keys {_preview(missing)}")
    if unexpected:
        parts.append(f"unexpected keys {_preview(unexpected)}")
    if wrong:
        parts.append(f"wrong shapes {_preview(wrong)}")
    message = f"{name}: not a {what} checkpoint: " + "; ".join(parts)
    raise ValueError(message + (f"; {hint}" if hint else ""))


def _preview(items, limit: int = 4) -> str:
    items = list(items.keys()) if isinstance(items, dict) else list(items) if isinstance(items, (list, tuple)) else [type(items).__name__]
    shown = ", ".join(repr(i) if not isinstance(i, str) or ":" not in i else i for i in items[:limit])
    return f"[{shown}{', ...' if len(items) > limit else ''}] ({len(items)} in all)"
