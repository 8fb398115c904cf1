"""The gallery's render side: import a pack checkout from any path and run its default workflow on one portrait.

Kept apart from the meters so the meters never import the pack being measured (they are this checkout's own).
"""
import inspect
import json
import os
from importlib import import_module

import numpy as np

PACK_NAME = "comfyui_modit"  # the name modit_app/pack.py gives the pack outside ComfyUI
VIDEO_NODES = ("CreateVideo", "SaveVideo")  # the bench encodes itself, identically for renders and baselines


def load_pack_from(root: str):
    """The pack package at `root` (its nodes and modit hang off it), imported under PACK_NAME."""
    from _pack import load_pack  # bench/ sibling: the one loader, modit_app/pack.py

    try:
        return load_pack(PACK_NAME, root)
    except FileNotFoundError as error:
        raise SystemExit(f"--pack {error}") from error


def graph_runner_of(pack_name: str = PACK_NAME):
    """The checkout's graph runner: modit_app/graph_runner.py (modit/graph_runner.py before issue 17)."""
    try:
        return import_module(f"{pack_name}.modit_app.graph_runner")
    except ModuleNotFoundError:
        return import_module(f"{pack_name}.modit.graph_runner")


class DefaultPipeline:
    """workflows/api/modit_basic.json of the given checkout, run with that checkout's node classes (the code path
    of `python -m modit_app generate`), minus the two video nodes: frames come back as an IMAGE batch."""

    def __init__(self, pack_root: str, workflow: str = "workflows/api/modit_basic.json"):
        self.pack = load_pack_from(pack_root)
        self.runner = graph_runner_of()
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
