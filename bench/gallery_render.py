"""The gallery's render side: import a pack checkout from any path and run its default workflow on one portrait.

Kept apart from the meters so the meters never import the pack being measured (they are this checkout's own).
"""
import importlib.util
import inspect
import json
import os
import sys
from importlib import import_module

import numpy as np

PACK_NAME = "comfyui_modit"  # the name the pack's own modit/pack.py gives it outside ComfyUI
VIDEO_NODES = ("CreateVideo", "SaveVideo")  # the bench encodes itself, identically for renders and baselines


def load_pack_from(root: str):
    """The pack package at `root` (its nodes and modit hang off it), imported under PACK_NAME."""
    root = os.path.abspath(root)
    init = os.path.join(root, "__init__.py")
    if not os.path.isfile(init):
        raise SystemExit(f"--pack {root}: no __init__.py there; give the root of a ComfyUI-MoDiT checkout")
    if PACK_NAME in sys.modules:
        loaded = sys.modules[PACK_NAME]
        if os.path.dirname(os.path.abspath(loaded.__file__)) != root:
            raise RuntimeError(f"a pack from {loaded.__file__} is already imported; one --pack per process")
        return loaded
    spec = importlib.util.spec_from_file_location(PACK_NAME, init, submodule_search_locations=[root])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[PACK_NAME]
        raise
    return module


class DefaultPipeline:
    """workflows/api/modit_basic.json of the given checkout, run with that checkout's node classes (the code path
    of `python -m modit generate`), minus the two video nodes: frames come back as an IMAGE batch."""

    def __init__(self, pack_root: str, workflow: str = "workflows/api/modit_basic.json"):
        self.pack = load_pack_from(pack_root)
        self.runner = import_module(f"{PACK_NAME}.modit.graph_runner")
        with open(os.path.join(pack_root, workflow)) as f:
            self.graph = json.load(f)
        self.render_node = next(i for i, n in self.graph.items() if n["class_type"] == "MoDiTFlowRender")
        self.motion_node = str(self.graph[self.render_node]["inputs"]["motion"][0])
        self.graph = {i: n for i, n in self.graph.items() if n["class_type"] not in VIDEO_NODES}

    def render(self, image_path: str, audio_path: str) -> tuple[np.ndarray, dict]:
        """(frames [T, H, W, 3] uint8 of the portrait speaking the recording, the intended motion: jaw_open [T]
        and eye_closure [T] as the renderer was asked for them, empty if this checkout does not say)."""
        outputs = self._run(self.graph, image_path, audio_path)
        frames = outputs[self.render_node][0]
        frames = (frames[..., :3].float().clamp(0, 1) * 255).round().byte().numpy()
        return frames, self._intended(outputs[self.motion_node][0])

    def motion(self, image_path: str, audio_path: str) -> dict:
        """The intended motion only (the graph without its render node)."""
        graph = {i: n for i, n in self.graph.items() if i != self.render_node}
        return self._intended(self._run(graph, image_path, audio_path)[self.motion_node][0])

    def _intended(self, motion) -> dict:
        try:
            names = import_module(f"{PACK_NAME}.modit.face.components").COMPONENT_NAMES
            jaw = motion.expression[:, list(names).index("jaw_open")].float().numpy()
            return {"jaw_open": jaw, "eye_closure": motion.eye_closure.float().mean(-1).numpy()}
        except (ImportError, AttributeError, ValueError):
            return {}

    def _run(self, graph: dict, image_path: str, audio_path: str) -> dict:
        graph = json.loads(json.dumps(graph))
        for node in graph.values():
            if node["class_type"] == "LoadImage":
                node["inputs"]["image"] = os.path.abspath(image_path)
            if node["class_type"] == "LoadAudio":
                node["inputs"]["audio"] = os.path.abspath(audio_path)
        # V3 checkouts list their nodes in NODES; older (V1) ones in NODE_CLASS_MAPPINGS, each run by its own runner
        nodes = getattr(self.pack.nodes, "NODES", None) or self.pack.nodes.NODE_CLASS_MAPPINGS
        if "keep" in inspect.signature(self.runner.run_graph).parameters:  # runners that release outputs early
            return self.runner.run_graph(graph, nodes, keep=(self.motion_node,))
        return self.runner.run_graph(graph, nodes)
