"""Load the pack under one package name (comfyui_modit) so tests see the same modules nodes use.

Through modit_app/pack.py, the one loader the CLI, benches and scripts use too, found by its path (bench/_pack.py
and scripts/_pack.py do the same for their folders).
"""
import importlib.util
import os

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_spec = importlib.util.spec_from_file_location("modit_pack_loader", os.path.join(ROOT, "modit_app", "pack.py"))
_loader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_loader)
PACK = _loader.load_pack()


@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs torch on one thread: the suite's networks are tiny, and on a 2-core machine (CI's, or one
    shared with other work) thread hand-offs cost far more than they save."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def pack():
    """The pack's root package: pack.nodes.NODES / run_node, pack.modit.types, ..."""
    return PACK


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """An empty models directory that the adapter's fallback folder lookup uses (models/<folder>/...)."""
    root = tmp_path / "models"
    for folder in ("modit", "wav2lip", "audio_encoders"):
        (root / folder).mkdir(parents=True)
    monkeypatch.setenv("MODIT_MODELS_DIR", str(root))
    return root


@pytest.fixture
def user_dirs(tmp_path, monkeypatch):
    """Fresh input/output/temp folders for nodes that read or write user files."""
    dirs = {}
    for kind in ("input", "output", "temp"):
        path = tmp_path / kind
        path.mkdir()
        monkeypatch.setenv(f"MODIT_{kind.upper()}_DIR", str(path))
        dirs[kind] = path
    return dirs


@pytest.fixture
def progress_calls():
    """[(done, total)] of every progress update made during the test (a standalone run's progress callable)."""
    import importlib

    comfy_adapter = importlib.import_module(f"{PACK.__name__}.modit.comfy_adapter")
    calls = []
    with comfy_adapter.standalone(progress=lambda done, total: calls.append((done, total))):
        yield calls


@pytest.fixture
def combo_options():
    """options(node_id, input name) -> the dropdown's choices now (schemas list model files when read)."""
    def options(node_id: str, name: str) -> list:
        info = PACK.nodes.node_info(PACK.nodes.NODES[node_id])["input"]
        entry = {**info.get("required", {}), **info.get("optional", {})}[name]
        return entry[1]["options"]

    return options
