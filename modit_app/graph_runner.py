"""Run an API-format ComfyUI workflow outside ComfyUI, with the pack's own (V3) node classes.

The CLI uses it to run the bundled workflows exactly as ComfyUI would (same graph, same node code). The few core
nodes those workflows use (LoadImage, LoadAudio, CreateVideo, SaveVideo, ImageScaleBy) have small stand-ins
here that read and write files the same way. Where outputs go and who hears progress are arguments of run_graph,
not process state.
"""
import logging
import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..modit import comfy_adapter
from .heap import return_freed_heap, trimming_progress

log = logging.getLogger(__name__)


@dataclass
class VideoParts:
    """What core CreateVideo hands to SaveVideo: frames [T, H, W, 3] 0..1, fps and optional AUDIO."""

    images: torch.Tensor
    fps: float
    audio: dict | None


def _input_file(name: str) -> str:
    path = name if os.path.isabs(name) else os.path.join(comfy_adapter.input_directory(), name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name}: no such input file (looked for {path})")
    return path


# Pillow's modes for one channel of more than 8 bits (16-bit PNG and TIFF greys, 32-bit integer and float images).
# convert("RGBA") clips them at 255: a 16-bit grey portrait came out white and "no face found".
DEEP_GREY_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def _rgba(img) -> np.ndarray:
    """[H, W, 4] float32 in 0..1 from a Pillow image of any mode (as ComfyUI's own LoadImage reads it)."""
    if img.mode not in DEEP_GREY_MODES:
        return np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
    grey = np.asarray(img, dtype=np.float32)
    peak = float(grey.max(initial=0.0))
    if img.mode.startswith("I;16") or peak > 255.0:
        full = 65535.0
    elif img.mode == "F" and peak <= 1.0:
        full = 1.0
    else:
        full = 255.0
    grey = np.clip(grey / full, 0.0, 1.0)
    return np.stack([grey, grey, grey, np.ones_like(grey)], axis=-1)


class LoadImage:
    RETURN_TYPES = ("IMAGE", "MASK")

    def run(self, image: str):
        from PIL import Image, ImageOps, UnidentifiedImageError

        path = _input_file(image)
        try:
            with Image.open(path) as img:
                img = ImageOps.exif_transpose(img)
                has_alpha = "A" in img.getbands()
                rgba = _rgba(img)
        except (UnidentifiedImageError, OSError, SyntaxError) as error:  # not an image, or a damaged one
            raise ValueError(f"{image}: not a readable image ({error}); give a PNG or JPEG portrait") from error
        except Image.DecompressionBombError as error:
            raise ValueError(f"{image}: {error}; scale the portrait down (a 2048 px side is plenty)") from error
        frames = torch.from_numpy(rgba[..., :3].copy())[None]
        mask = (1.0 - torch.from_numpy(rgba[..., 3].copy()))[None] if has_alpha else torch.zeros(1, 64, 64)
        return frames, mask


class LoadAudio:
    RETURN_TYPES = ("AUDIO",)

    def run(self, audio: str):
        from ..modit.audio.samples import decode_to_file

        # Decoded chunk by chunk into a temporary file: an hour of speech is never held in memory. The result is
        # a core AUDIO dict (audio["waveform"] builds the tensor) whose samples the pack's nodes read in windows.
        return (decode_to_file(_input_file(audio), audio),)


class ImageScaleBy:
    RETURN_TYPES = ("IMAGE",)

    def run(self, image: torch.Tensor, upscale_method: str, scale_by: float):
        mode = {"nearest-exact": "nearest-exact", "bilinear": "bilinear", "area": "area"}.get(upscale_method, "bicubic")
        H, W = image.shape[1:3]
        size = (round(H * scale_by), round(W * scale_by))
        kwargs = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
        scaled = torch.nn.functional.interpolate(image.movedim(-1, 1).float(), size=size, mode=mode, **kwargs)
        return (scaled.movedim(1, -1).clamp(0, 1).to(image.dtype),)


class CreateVideo:
    RETURN_TYPES = ("VIDEO",)

    def run(self, images: torch.Tensor, fps: float, audio: dict | None = None, bit_depth: int = 8):
        return (VideoParts(images, float(fps), audio),)


class SaveVideo:
    RETURN_TYPES = ("VIDEO",)

    def __init__(self, output_path: str | None = None):
        self.output_path = output_path  # the exact file to write; None: a new numbered file in the output folder

    def run(self, video: VideoParts, filename_prefix: str, format: str = "auto", codec: str = "auto"):
        from ..modit.render.video import next_output_path, write_frames

        height, width = video.images.shape[1:3]
        if height % 2 or width % 2:  # as core SaveVideo fails (libx264, yuv420p), so the CLI cannot hide it
            raise ValueError(f"SaveVideo: frames of {width}x{height} px; H.264 (libx264, yuv420p) needs an even width "
                             f"and height, as core SaveVideo does; crop the frames to even sides")
        path = self.output_path or next_output_path(comfy_adapter.output_directory(), filename_prefix)[0]
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        write_frames(path, video.images, video.fps, video.audio)
        log.info("wrote %s", path)
        return (video,)


CORE_STAND_INS = {cls.__name__: cls for cls in (LoadImage, LoadAudio, ImageScaleBy, CreateVideo, SaveVideo)}


def _links(node: dict, graph: dict):
    """(input name, producer id, output slot) for every input of `node` that is a link."""
    for name, value in node.get("inputs", {}).items():
        if isinstance(value, list) and len(value) == 2 and str(value[0]) in graph:
            yield name, str(value[0]), int(value[1])


def _run_node(cls, inputs: dict) -> tuple:
    """Run a V3 node (a class with a classmethod `execute`) as ComfyUI does; its output values in socket order.
    `execute` returns an io.NodeOutput (values in `.args`, the node's display in `.ui`), or a tuple or None."""
    result = cls.execute(**inputs)
    if result is None:
        return ()
    return result if isinstance(result, tuple) else tuple(result.args)


def run_graph(graph: dict, node_classes: dict, timings: list | None = None, keep=(), output_dir: str | None = None,
              video_path: str | None = None, progress=None) -> dict:
    """Execute every node of an API-format graph in dependency order; returns {node_id: outputs tuple} of the
    nodes nothing consumes (the graph's outputs) and of the nodes named in `keep` (for benches and tests that
    inspect an intermediate result, e.g. the motion a renderer was given).

    An output is released as soon as the last node that reads it has run, so a long recording's AUDIO, its
    features and the frames are not all held to the end of the run (ComfyUI itself keeps them in its cache;
    the CLI has no later run to serve). `timings`, if given, gets (node id, class_type, seconds) per node run
    (its own work, not its inputs'). `output_dir` is where nodes write files (None: MODIT_OUTPUT_DIR or
    ./output), `video_path` the exact file the SaveVideo stand-in writes (None: a new numbered file there), and
    `progress` a callable(done, total) that hears every node's progress (None: debug log lines).
    """
    outputs: dict = {}
    finished: set = set()
    visiting: set = set()
    readers: dict = {}  # (producer id, slot) -> links still to be read
    keep = {str(node_id) for node_id in keep}
    for node in graph.values():
        for _, producer, slot in _links(node, graph):
            readers[producer, slot] = readers.get((producer, slot), 0) + 1

    def release(producer: str, slot: int) -> None:
        readers[producer, slot] -= 1
        if readers[producer, slot] == 0 and producer in outputs and producer not in keep:
            held = list(outputs[producer])
            held[slot] = None
            outputs[producer] = tuple(held)
            if all(readers.get((producer, s), 0) == 0 for s in range(len(held))):
                del outputs[producer]

    def evaluate(node_id: str):
        if node_id in visiting:
            raise ValueError(f"workflow has a cycle through node {node_id}")
        visiting.add(node_id)
        node = graph[node_id]
        kind = node["class_type"]
        kwargs = {name: value for name, value in node.get("inputs", {}).items()}
        links = list(_links(node, graph))
        for name, producer, slot in links:
            if producer not in finished:
                evaluate(producer)
            kwargs[name] = outputs[producer][slot]
        started = time.perf_counter()
        if kind in node_classes:
            result = _run_node(node_classes[kind], kwargs)
        elif kind == "SaveVideo":
            result = SaveVideo(video_path).run(**kwargs)
        elif kind in CORE_STAND_INS:
            result = CORE_STAND_INS[kind]().run(**kwargs)
        else:
            raise ValueError(f"node {node_id}: {kind} is a core node this runner cannot stand in for; run the "
                             f"workflow in ComfyUI")
        seconds = time.perf_counter() - started
        if timings is not None:
            timings.append((node_id, kind, seconds))
        log.debug("ran node %s (%s) in %.2f s", node_id, kind, seconds)
        held = tuple(result)
        del kwargs, result
        if node_id not in keep and any(readers.get((node_id, slot), 0) for slot in range(len(held))):
            # a node others read keeps only the slots they read (Encode Audio's AUDIO goes at once when, as in
            # the streaming workflow, nothing reads it); a node nothing reads is an output of the graph
            held = tuple(value if readers.get((node_id, slot), 0) else None for slot, value in enumerate(held))
        outputs[node_id] = held
        finished.add(node_id)
        visiting.discard(node_id)
        for _, producer, slot in links:
            release(producer, slot)
        return_freed_heap()  # the node's freed temporaries and released inputs go back to the OS

    # progress comes once per chunk: the heap is trimmed while long nodes run too (heap.py)
    with comfy_adapter.standalone(output_dir=output_dir, progress=trimming_progress(progress)):
        for node_id in graph:
            if node_id not in finished:
                evaluate(node_id)
    return outputs
