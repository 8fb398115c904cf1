"""Bundled workflows use only real node types and inputs, and link outputs to inputs of the same type.

Core node specs come from a real ComfyUI 0.27.0's /object_info (../shared/reference); ours from the nodes' V3
schemas, in the same /object_info form (nodes/object_info.py).
"""
import glob
import json
import os

import pytest

from comfyui_modit.nodes import NODES
from comfyui_modit.nodes.object_info import node_info

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OBJECT_INFO = os.path.join(ROOT, "tests", "data", "comfyui-0.27.0-object_info.json")
UI_WORKFLOWS = sorted(glob.glob(os.path.join(ROOT, "workflows", "*.json")))
API_WORKFLOWS = sorted(glob.glob(os.path.join(ROOT, "workflows", "api", "*.json")))
UI_ONLY_TYPES = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
# Combos whose options list whatever files a user has: any value is fine here.
FILE_COMBOS = {("LoadImage", "image"), ("LoadAudio", "audio"), ("UpscaleModelLoader", "model_name"),
               ("MoDiTLoadWav2Lip", "model_name"), ("MoDiTLoadMotion", "track"), ("MoDiTLoadAudioEncoder", "encoder")}


def _our_specs():
    specs = {}
    for node_id, cls in NODES.items():
        info = node_info(cls)
        specs[node_id] = {"input": info["input"], "output": info["output"]}
    return specs


def _specs():
    with open(OBJECT_INFO) as f:
        specs = {k: {"input": v["input"], "output": v["output"]} for k, v in json.load(f).items()}
    specs.update(_our_specs())
    return specs


SPECS = _specs()


def _declared(class_type):
    inputs = SPECS[class_type]["input"]
    return {**inputs.get("required", {}), **inputs.get("optional", {})}


def _input_type(class_type, name):
    entry = _declared(class_type)[name]
    kind = entry[0]
    return "COMBO" if isinstance(kind, list) else kind


def _types_match(out_type, in_type):
    if "*" in (out_type, in_type):
        return True
    return out_type in in_type.split(",") if "," in in_type else out_type == in_type


def _check_literal(class_type, name, value):
    entry = _declared(class_type)[name]
    kind, opts = entry[0], (entry[1] if len(entry) > 1 else {})
    if (class_type, name) in FILE_COMBOS:
        return
    options = kind if isinstance(kind, list) else opts.get("options") if kind == "COMBO" else None
    if options is not None:
        assert value in options, f"{class_type}.{name}: {value!r} not among {options}"
    elif kind in ("INT", "FLOAT"):
        assert isinstance(value, (int, float)), f"{class_type}.{name}: {value!r} is not a number"
        assert opts.get("min", float("-inf")) <= value <= opts.get("max", float("inf")), f"{class_type}.{name}={value} out of range"


def test_object_info_reference_is_present():
    assert "CreateVideo" in SPECS and "SaveVideo" in SPECS


@pytest.mark.parametrize("path", API_WORKFLOWS, ids=os.path.basename)
def test_api_workflow(path):
    with open(path) as f:
        graph = json.load(f)
    assert graph, f"{path}: empty graph"
    for node_id, node in graph.items():
        class_type = node["class_type"]
        assert class_type in SPECS, f"node {node_id}: unknown class_type {class_type!r}"
        declared = _declared(class_type)
        required = SPECS[class_type]["input"].get("required", {})
        missing = set(required) - set(node["inputs"])
        assert not missing, f"node {node_id} ({class_type}): missing required inputs {missing}"
        for name, value in node["inputs"].items():
            assert name in declared, f"node {node_id} ({class_type}): undeclared input {name!r}"
            if isinstance(value, list):
                source, slot = value
                assert str(source) in graph, f"node {node_id}.{name}: links to missing node {source}"
                out_types = SPECS[graph[str(source)]["class_type"]]["output"]
                assert slot < len(out_types), f"node {node_id}.{name}: output slot {slot} does not exist"
                assert _types_match(out_types[slot], _input_type(class_type, name)), \
                    f"node {node_id}.{name}: {out_types[slot]} linked to a {_input_type(class_type, name)} input"
            else:
                _check_literal(class_type, name, value)


@pytest.mark.parametrize("path", UI_WORKFLOWS, ids=os.path.basename)
def test_ui_workflow(path):
    with open(path) as f:
        workflow = json.load(f)
    nodes = {node["id"]: node for node in workflow["nodes"]}
    for node in nodes.values():
        assert node["type"] in SPECS or node["type"] in UI_ONLY_TYPES, f"node {node['id']}: unknown type {node['type']!r}"
    for link_id, origin, origin_slot, target, target_slot, link_type in workflow["links"]:
        source, sink = nodes[origin], nodes[target]
        out_type = SPECS[source["type"]]["output"][origin_slot]
        assert _types_match(out_type, link_type), f"link {link_id}: type {link_type} but output is {out_type}"
        sink_input = sink["inputs"][target_slot]
        assert sink_input.get("link") == link_id, f"link {link_id}: target slot does not point back to it"
        assert sink_input["name"] in _declared(sink["type"]), f"link {link_id}: {sink['type']} has no input {sink_input['name']!r}"
        assert _types_match(out_type, _input_type(sink["type"], sink_input["name"])), f"link {link_id}: type mismatch"


@pytest.mark.parametrize("path", API_WORKFLOWS, ids=os.path.basename)
def test_api_workflow_has_ui_twin(path):
    twin = os.path.join(ROOT, "workflows", os.path.basename(path))
    assert os.path.exists(twin), f"{os.path.basename(path)}: no UI-format twin in workflows/"
    with open(path) as f:
        api_types = sorted(n["class_type"] for n in json.load(f).values())
    with open(twin) as f:
        ui_types = sorted(n["type"] for n in json.load(f)["nodes"] if n["type"] not in UI_ONLY_TYPES)
    assert api_types == ui_types, f"{os.path.basename(path)}: API and UI graphs hold different nodes"


@pytest.mark.parametrize("path", UI_WORKFLOWS, ids=os.path.basename)
def test_ui_workflow_has_a_thumbnail(path):
    # ComfyUI's template browser shows <name>.jpg beside <name>.json.
    assert os.path.exists(os.path.splitext(path)[0] + ".jpg"), f"{os.path.basename(path)}: no .jpg thumbnail"
