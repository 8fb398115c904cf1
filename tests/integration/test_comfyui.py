"""Integration tier: a real ComfyUI 0.27 loads the pack (V3, comfy_entrypoint) without import errors and lists every
node as the schemas say."""
import json
import os

import pytest

from comfyui_modit.nodes import NODES, node_info

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
    ours = os.path.join(server.workdir, "custom_nodes", PACK_FOLDER)  # not another copy in ComfyUI's own folder
    timing = [line for line in log.splitlines() if line.rstrip().endswith(ours) or f"{ours} " in line]
    assert timing, f"the pack is missing from ComfyUI's import-time table:\n{log[-3000:]}"
    assert not any("IMPORT FAILED" in line for line in timing), "\n".join(timing)
    failures = [line for line in log.splitlines() if "Cannot import" in line and ours in line]
    assert not failures, log[-3000:]
    dropped = [line for line in log.splitlines() if "comfy_entrypoint" in line and ours in line]
    assert not dropped, "\n".join(dropped)


# Dropdowns that list the user's files: the server's folders differ from this process's, so their options do too.
FILE_LISTS = {("MoDiTLoadWav2Lip", "model_name"), ("MoDiTLoadMotion", "track"), ("MoDiTLoadAudioEncoder", "encoder"),
              ("MoDiTLoadDiT", "checkpoint"), ("MoDiTBlinkPose", "pose_model")}


def _without_file_lists(node_id, info):
    info = json.loads(json.dumps(info))  # tuples -> lists, as served
    for section in ("required", "optional"):
        for name, entry in info["input"].get(section, {}).items():
            if (node_id, name) in FILE_LISTS:
                entry[1].pop("options", None)
                entry[1].pop("default", None)
    return info


def test_object_info_lists_every_node(server):
    info = server.get("/object_info")
    missing = sorted(set(NODES) - set(info))
    assert not missing, f"ComfyUI does not list {missing}"
    for node_id in NODES:
        assert info[node_id]["category"].startswith("MoDiT/")


def test_object_info_matches_the_schemas_read_without_comfyui(server):
    """What a real ComfyUI serves for each node is what tests, scripts and the README read through the stand-in
    (nodes/io_standin.py + nodes/object_info.py): the stand-in is faithful where it matters."""
    served = server.get("/object_info")
    for node_id, cls in NODES.items():
        local = _without_file_lists(node_id, node_info(cls))
        remote = _without_file_lists(node_id, {key: served[node_id][key] for key in local})
        assert remote == local, f"{node_id}: ComfyUI serves {remote}\nthe stand-in reads {local}"
