"""The library's only door to ComfyUI: devices, dtypes, progress, interrupts, model patchers and model folders.

Every function works without ComfyUI too (unit tests, the `python -m modit_app generate` CLI): then it falls
back to plain torch, to folders under MODIT_MODELS_DIR / MODIT_OUTPUT_DIR / MODIT_INPUT_DIR, and to no-op
progress. Whoever runs nodes without ComfyUI may say where outputs go and who hears progress for the span of one
run, explicitly: `with standalone(output_dir=..., progress=...):` (modit_app/graph_runner.py does). This module
reads the environment; it never writes it.
Nothing else in the library may import `comfy`, `comfy_api` or `folder_paths`. The node API (`comfy_api.latest`:
io.ComfyNode, io.Schema, ComfyExtension) is the node layer's business, not the library's: its one door is
nodes/comfy_io.py, which falls back to the stand-in nodes/io_standin.py the same way.
"""
import contextlib
import contextvars
import logging
import os
from dataclasses import dataclass
from typing import Callable

import torch

log = logging.getLogger(__name__)

try:  # ComfyUI has imported all of these before it loads custom nodes, so this is cheap there.
    import comfy.model_management as _mm
    import comfy.model_patcher as _model_patcher
    import comfy.utils as _comfy_utils
    import folder_paths as _folder_paths
    HAVE_COMFY = True
except ImportError:
    _mm = _model_patcher = _comfy_utils = _folder_paths = None
    HAVE_COMFY = False

MODEL_FOLDER = "modit"  # models/modit: DiT, HuBERT, Wav2Lip and SadTalker files the user supplies
WAV2LIP_FOLDER = "wav2lip"  # models/wav2lip, where other lip-sync packs keep wav2lip.pth
AUDIO_ENCODER_FOLDER = "audio_encoders"  # core's folder for wav2vec2 / whisper / HuBERT
PACK_FOLDERS = (MODEL_FOLDER, WAV2LIP_FOLDER)

# ---------------------------------------------------------------------------------------------- devices


def compute_device() -> torch.device:
    """Where the pack's networks run: ComfyUI's torch device, else MODIT_DEVICE, else cuda / mps / cpu."""
    if HAVE_COMFY:
        return _mm.get_torch_device()
    if os.environ.get("MODIT_DEVICE"):
        return torch.device(os.environ["MODIT_DEVICE"])
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def offload_device() -> torch.device:
    """Where idle weights wait (ComfyUI decides; without it, the CPU)."""
    if HAVE_COMFY:
        return _mm.unet_offload_device()
    return torch.device("cpu")


def intermediate_device() -> torch.device:
    """Where IMAGE / MASK outputs go (CPU unless ComfyUI runs with --gpu-only)."""
    if HAVE_COMFY:
        return _mm.intermediate_device()
    return torch.device("cpu")


def intermediate_dtype() -> torch.dtype:
    """dtype of IMAGE / MASK outputs (fp32 unless ComfyUI runs with --fp16-intermediates)."""
    if HAVE_COMFY and hasattr(_mm, "intermediate_dtype"):
        return _mm.intermediate_dtype()
    return torch.float32


DTYPE_CHOICES = ("auto", "fp32", "fp16", "bf16")
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """Turn a dtype widget value into a torch dtype; 'auto' picks what the device does well (fp32 on CPU)."""
    if name in _DTYPES:
        return _DTYPES[name]
    if name != "auto":
        raise ValueError(f"dtype: expected one of {DTYPE_CHOICES}, got {name!r}")
    if device.type == "cpu":
        return torch.float32
    if HAVE_COMFY:
        if _mm.should_use_bf16(device):
            return torch.bfloat16
        if _mm.should_use_fp16(device):
            return torch.float16
        return torch.float32
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16 if device.type in ("cuda", "mps") else torch.float32

# ------------------------------------------------------------------------------------- model patchers


class _PlainPatcher:
    """What a ModelPatcher offers us, without ComfyUI: a module that moves to its load device on demand."""

    def __init__(self, model: torch.nn.Module, load_device: torch.device, offload_device: torch.device):
        self.model = model
        self.load_device = load_device
        self.offload_device = offload_device
        self._loaded = False

    def load(self) -> None:
        # Module.to walks every parameter even when nothing moves: for the face stack that was a third of the CPU
        # time of each video frame (45 -> 29 ms); without ComfyUI nothing offloads, so the first move is enough.
        if not self._loaded:
            self.model.to(self.load_device)
            self._loaded = True


def make_patcher(model: torch.nn.Module, load_device: torch.device | None = None,
                 offload: torch.device | None = None):
    """Wrap a module so ComfyUI's memory manager can load and offload it (CoreModelPatcher)."""
    load_device = load_device or compute_device()
    offload = offload or offload_device()
    if HAVE_COMFY:
        return _model_patcher.CoreModelPatcher(model, load_device=load_device, offload_device=offload)
    return _PlainPatcher(model, load_device, offload)


def load_models(patchers: list, memory_required: int = 0) -> None:
    """Make sure these models sit on their load device before compute (ComfyUI may evict others)."""
    if HAVE_COMFY:
        _mm.load_models_gpu(list(patchers), memory_required=memory_required)
        return
    for patcher in patchers:
        patcher.load()


def is_oom(error: BaseException) -> bool:
    """True when `error` is an out-of-memory error worth retrying with a smaller chunk."""
    if HAVE_COMFY and hasattr(_mm, "is_oom"):
        return bool(_mm.is_oom(error))
    return isinstance(error, torch.OutOfMemoryError)


def soft_empty_cache() -> None:
    """Release cached accelerator memory after freeing big temporaries (not per frame)."""
    if HAVE_COMFY:
        _mm.soft_empty_cache()
    elif torch.cuda.is_available():
        torch.cuda.empty_cache()

# ------------------------------------------------------------------------- runs without ComfyUI


@dataclass(frozen=True)
class Standalone:
    """Settings of one run without ComfyUI: where outputs go (None: MODIT_OUTPUT_DIR or ./output) and who hears
    progress (callable(done, total); None: debug log lines)."""

    output_dir: str | None = None
    progress: Callable[[int, int], None] | None = None


_STANDALONE = contextvars.ContextVar("modit_standalone", default=Standalone())


@contextlib.contextmanager
def standalone(output_dir: str | None = None, progress: Callable[[int, int], None] | None = None):
    """Run the enclosed node calls with these settings; the previous ones come back on exit (also on error).

    Ignored under ComfyUI, whose own folders and progress bar always win.
    """
    token = _STANDALONE.set(Standalone(output_dir, progress))
    try:
        yield
    finally:
        _STANDALONE.reset(token)

# ----------------------------------------------------------------------------- progress and cancelling


def check_interrupt() -> None:
    """Raise ComfyUI's InterruptProcessingException if the user pressed Cancel (call once per chunk)."""
    if HAVE_COMFY:
        _mm.throw_exception_if_processing_interrupted()


class Progress:
    """A progress bar over `total` units that also checks for Cancel on every update.

    Without ComfyUI it calls the progress callable of the enclosing `standalone(...)` run, or logs at debug level.
    """

    def __init__(self, total: int):
        self.total = max(int(total), 1)
        self.done = 0
        self._bar = _comfy_utils.ProgressBar(self.total) if HAVE_COMFY else None
        self._hook = None if HAVE_COMFY else _STANDALONE.get().progress  # read here: updates may come from a thread

    def update(self, n: int = 1, preview=None) -> None:
        """Advance by n units; `preview` is an optional [H, W, 3] 0..1 tensor shown on the node."""
        self.done = min(self.done + n, self.total)
        if self._bar is not None:
            self._bar.update_absolute(self.done, self.total, _preview_image(preview) if preview is not None else None)
        elif self._hook is not None:
            self._hook(self.done, self.total)
        else:
            log.debug("progress %d/%d", self.done, self.total)
        check_interrupt()


def _preview_image(frame: torch.Tensor):
    from PIL import Image  # ComfyUI ships Pillow; imported here so the adapter stays cheap

    array = (frame.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return ("JPEG", Image.fromarray(array), 512)

# -------------------------------------------------------------------------------------- model folders


def _fallback_models_dir() -> str:
    return os.environ.get("MODIT_MODELS_DIR", os.path.join(os.getcwd(), "models"))


def register_model_folders() -> None:
    """Register models/modit and models/wav2lip with folder_paths (COMFYUI.md §3 idiom).

    An existing key (say from extra_model_paths.yaml, where it arrives with an empty extension set that would
    list every file) keeps its paths, gains the default folder, and gets the model-file extensions.
    """
    if not HAVE_COMFY:
        return
    extensions = set(_folder_paths.supported_pt_extensions)
    for name in PACK_FOLDERS:
        default = os.path.join(_folder_paths.models_dir, name)
        if name in _folder_paths.folder_names_and_paths:
            paths, _ = _folder_paths.folder_names_and_paths[name]
            if default not in paths:
                paths.append(default)
            _folder_paths.folder_names_and_paths[name] = (paths, extensions)
        else:
            _folder_paths.folder_names_and_paths[name] = ([default], extensions)


MODEL_EXTENSIONS = (".safetensors", ".sft", ".pth", ".pt", ".ckpt", ".bin")


def folder_paths_for(folder: str) -> list[str]:
    """The directories searched for `folder` ("modit", "wav2lip", "audio_encoders")."""
    if HAVE_COMFY:
        try:
            return list(_folder_paths.get_folder_paths(folder))
        except KeyError:
            return []
    return [os.path.join(_fallback_models_dir(), folder)]


def list_models(folder: str, directories: bool = False) -> list[str]:
    """Model files in `folder` (relative paths, sorted); with directories=True also first-level folders
    (a transformers model saved with save_pretrained is a folder)."""
    names = set()
    if HAVE_COMFY and not directories:
        try:
            return sorted(_folder_paths.get_filename_list(folder))
        except KeyError:
            return []
    for root in folder_paths_for(folder):
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            rel = os.path.relpath(dirpath, root)
            if directories and rel == ".":
                names.update(d for d in dirnames if not d.startswith("."))
            for filename in filenames:
                if filename.lower().endswith(MODEL_EXTENSIONS):
                    names.add(os.path.normpath(os.path.join(rel, filename)).replace(os.sep, "/"))
    return sorted(names)


def model_path(folder: str, name: str) -> str:
    """Full path of model `name` in `folder`; FileNotFoundError naming the folders searched if absent."""
    for root in folder_paths_for(folder):
        # The name must stay inside the folder, but what it names may be a symlink to a file kept elsewhere
        # (users share wav2lip.pth between packs that way), so the check is on the path, not its target.
        root = os.path.abspath(root)
        candidate = os.path.normpath(os.path.join(root, name))
        if os.path.commonpath([candidate, root]) == root and os.path.exists(candidate):
            return candidate
    searched = ", ".join(folder_paths_for(folder)) or f"models/{folder}"
    raise FileNotFoundError(f"model {name!r} not found in models/{folder} (searched: {searched}); "
                            f"put the file there and refresh the node's list")

# ------------------------------------------------------------------------------------ user folders


def _user_dir(kind: str) -> str:
    if HAVE_COMFY:
        return {"output": _folder_paths.get_output_directory, "input": _folder_paths.get_input_directory,
                "temp": _folder_paths.get_temp_directory}[kind]()
    return os.environ.get(f"MODIT_{kind.upper()}_DIR", os.path.join(os.getcwd(), kind))


def output_directory() -> str:
    """ComfyUI's output folder (SaveVideo writes here); without ComfyUI the enclosing `standalone(...)` run's
    output_dir, else MODIT_OUTPUT_DIR / ./output."""
    if not HAVE_COMFY and _STANDALONE.get().output_dir:
        return _STANDALONE.get().output_dir
    return _user_dir("output")


def input_directory() -> str:
    """ComfyUI's input folder (LoadImage reads here), or MODIT_INPUT_DIR / ./input."""
    return _user_dir("input")


def temp_directory() -> str:
    """ComfyUI's temp folder (previews), or MODIT_TEMP_DIR / ./temp."""
    return _user_dir("temp")
