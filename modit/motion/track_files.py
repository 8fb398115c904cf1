"""Motion track files: a MODIT_MOTION saved as safetensors (expression, pose, eye_closure + fps and space).

Saved tracks go to ComfyUI's output folder under `modit_motion/`; tracks are loaded from the input folder (its
root or `modit_motion/`) or from output/modit_motion. Names are plain file names: anything that could leave
those folders (separators, '..', absolute or drive paths) is refused, and saving never overwrites a file.
"""
import logging
import os
import re

import torch

from .. import comfy_adapter
from ..checkpoints import check_state_dict, load_checkpoint, save_checkpoint
from ..types import EYE_CHANNELS, POSE_CHANNELS, Motion

log = logging.getLogger(__name__)

SUBFOLDER = "modit_motion"
EXTENSION = ".safetensors"
FORMAT = "modit-motion"
FORMAT_VERSION = 1
NO_FILES = "(no motion files)"
_ANNOTATION = re.compile(r"^(?P<name>.+?) \[(?P<where>input|output)\]$")


def validate_track_name(name: str) -> str:
    """The file stem for a user-given track name; ValueError if it is empty or could leave its folder."""
    stem = name.strip()
    if stem.lower().endswith(EXTENSION):
        stem = stem[:-len(EXTENSION)]
    bad = ("/" in stem or "\\" in stem or ".." in stem or os.path.isabs(stem) or ":" in stem or "\x00" in stem
           or stem.startswith("."))
    if not stem or bad:
        raise ValueError(f"motion track name {name!r}: expected a plain file name such as 'speech_take1' "
                         f"(no folders, '..', drive letters or leading dots); the file always goes into "
                         f"{SUBFOLDER}/")
    return stem


def _free_path(directory: str, stem: str) -> str:
    """directory/stem.safetensors, or stem_00001.safetensors, ... if taken: never overwrite a user's file."""
    candidate = os.path.join(directory, stem + EXTENSION)
    counter = 0
    while os.path.exists(candidate):
        counter += 1
        candidate = os.path.join(directory, f"{stem}_{counter:05d}{EXTENSION}")
    return candidate


def motion_state(motion: Motion) -> tuple[dict, dict]:
    """(tensors, metadata) that describe a motion track."""
    tensors = {"expression": motion.expression.float(), "pose": motion.pose.float(),
               "eye_closure": motion.eye_closure.float()}
    metadata = {"format": FORMAT, "version": FORMAT_VERSION, "fps": motion.fps, "space": motion.space,
                "num_frames": motion.num_frames, "pose_channels": list(POSE_CHANNELS),
                "eye_channels": list(EYE_CHANNELS)}
    return tensors, metadata


def save_motion(motion: Motion, name: str, directory: str | None = None) -> str:
    """Write `motion` to <output>/modit_motion/<name>.safetensors (a counter suffix if taken); returns the path."""
    stem = validate_track_name(name)
    directory = directory or os.path.join(comfy_adapter.output_directory(), SUBFOLDER)
    os.makedirs(directory, exist_ok=True)
    path = _free_path(directory, stem)
    tensors, metadata = motion_state(motion)
    save_checkpoint(path, tensors, metadata)
    log.info("saved motion track %s (%d frames at %g fps)", path, motion.num_frames, motion.fps)
    return path


def load_motion(path: str) -> Motion:
    """Read a motion track file; ValueError naming the file if it is not one."""
    name = os.path.basename(path)
    tensors, metadata = load_checkpoint(path)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{name}: not a motion track: expected metadata format {FORMAT!r}, found "
                         f"{metadata.get('format')!r}; save tracks with MoDiT Save Motion")
    T = int(metadata.get("num_frames", tensors.get("pose", torch.zeros(0, 6)).shape[0]))
    K = tensors["expression"].shape[1] if "expression" in tensors and tensors["expression"].ndim == 2 else 0
    check_state_dict(tensors, {"expression": (T, K), "pose": (T, 6), "eye_closure": (T, 2)}, name, "motion track")
    try:
        return Motion(expression=tensors["expression"].float(), pose=tensors["pose"].float(),
                      eye_closure=tensors["eye_closure"].float(), fps=float(metadata["fps"]),
                      space=str(metadata["space"]))
    except KeyError as error:
        raise ValueError(f"{name}: motion track metadata lacks {error}; re-save it with MoDiT Save Motion") from error


def _search_folders() -> dict:
    return {"input": [os.path.join(comfy_adapter.input_directory(), SUBFOLDER), comfy_adapter.input_directory()],
            "output": [os.path.join(comfy_adapter.output_directory(), SUBFOLDER)]}


def list_motion_files() -> list[str]:
    """Track files offered by MoDiT Load Motion, as 'name.safetensors [input]' / '[output]'; newest first."""
    found = {}
    for where, folders in _search_folders().items():
        for folder in folders:
            if not os.path.isdir(folder):
                continue
            for entry in os.scandir(folder):
                if entry.is_file() and entry.name.lower().endswith(EXTENSION):
                    found.setdefault(f"{entry.name} [{where}]", entry.stat().st_mtime)
    return sorted(found, key=lambda k: (-found[k], k)) or [NO_FILES]


def resolve_motion_file(annotated: str) -> str:
    """Path of a name from list_motion_files ('x.safetensors [output]'; a bare name means input)."""
    if annotated == NO_FILES:
        raise FileNotFoundError(f"no motion track files found; save one with MoDiT Save Motion (it goes to "
                                f"output/{SUBFOLDER}) or put a .safetensors track in the input folder, then refresh")
    match = _ANNOTATION.match(annotated)
    name, where = (match["name"], match["where"]) if match else (annotated, "input")
    stem = validate_track_name(name)
    for folder in _search_folders()[where]:
        candidate = os.path.join(folder, stem + EXTENSION)
        if os.path.isfile(candidate):
            root = os.path.realpath(folder)
            if os.path.commonpath([os.path.realpath(candidate), root]) == root:
                return candidate
    searched = ", ".join(_search_folders()[where])
    raise FileNotFoundError(f"motion track {annotated!r} not found (searched: {searched}); pick a file from "
                            f"the list after refreshing")
