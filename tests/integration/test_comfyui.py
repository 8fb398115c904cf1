"""Integration tier: a real ComfyUI 0.27 loads the pack without import errors and lists every node."""
import pytest

from comfyui_modit.nodes import NODE_CLASS_MAPPINGS

from .comfyui_server import PACK_FOLDER, ComfyServer, comfyui_env

ENV, WHY = comfyui_env()
pytestmark = [pytest.mark.integration, pytest.mark.skipif(ENV is None, reason=WHY)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root, python = ENV
    with ComfyServer(root, python, tmp_path_factory.mktemp("comfyui")) as running:
        yield running


def test_pack_imports_without_failure(server):
    log = server.log()
    timing = [line for line in log.splitlines() if line.rstrip().endswith(f"custom_nodes/{PACK_FOLDER}")
              or f"custom_nodes/{PACK_FOLDER} " in line]
    assert timing, f"the pack is missing from ComfyUI's import-time table:\n{log[-3000:]}"
    assert not any("IMPORT FAILED" in line for line in timing), "\n".join(timing)
    assert "Cannot import" not in log, log[-3000:]


def test_object_info_lists_every_node(server):
    info = server.get("/object_info")
    missing = sorted(set(NODE_CLASS_MAPPINGS) - set(info))
    assert not missing, f"ComfyUI does not list {missing}"
    for node_id in NODE_CLASS_MAPPINGS:
        assert info[node_id]["category"].startswith("MoDiT/")
