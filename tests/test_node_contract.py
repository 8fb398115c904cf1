"""Every node honours ComfyUI's V3 contract (io.ComfyNode, define_schema, execute), so the pack loads through
comfy_entrypoint and its widgets validate. The schema is read through nodes/object_info.py, the same view of a
node that ComfyUI's /object_info serves (the integration tier checks the two agree in a real ComfyUI)."""
import asyncio
import inspect

import pytest

from comfyui_modit import nodes
from comfyui_modit.nodes import NODES
from comfyui_modit.nodes.comfy_io import io
from comfyui_modit.nodes.object_info import node_info

# Types ComfyUI core defines; everything else a node of ours declares must be a MODIT_ type.
CORE_TYPES = {"IMAGE", "MASK", "AUDIO", "INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "VIDEO", "LATENT",
              "AUDIO_ENCODER_OUTPUT", "FACE_LANDMARKS", "BOUNDING_BOX", "*"}
INFO = {node_id: node_info(cls) for node_id, cls in NODES.items()}


def _inputs(node_id):
    spec = INFO[node_id]["input"]
    assert set(spec) <= {"required", "optional", "hidden"}, f"{node_id}: unknown input sections {set(spec)}"
    for section in ("required", "optional"):
        for name, entry in spec.get(section, {}).items():
            yield section, name, entry


def test_pack_has_all_nodes():
    assert len(NODES) == 17, sorted(NODES)


def test_the_pack_enters_through_comfy_entrypoint_only():
    import comfyui_modit as pack

    assert not hasattr(pack, "NODE_CLASS_MAPPINGS"), "ComfyUI ignores comfy_entrypoint when NODE_CLASS_MAPPINGS exists"
    assert pack.WEB_DIRECTORY == "./web"
    extension = asyncio.run(pack.comfy_entrypoint())
    assert isinstance(extension, nodes.ComfyExtension)
    asyncio.run(extension.on_load())
    assert asyncio.run(extension.get_node_list()) == list(NODES.values())


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_identity(node_id):
    cls, info = NODES[node_id], INFO[node_id]
    assert issubclass(cls, io.ComfyNode), f"{node_id}: not a V3 node"
    assert info["name"] == node_id == cls.__name__, f"{node_id}: schema node_id {info['name']!r} != class name"
    assert node_id.startswith("MoDiT"), node_id
    assert info["display_name"].startswith("MoDiT "), f"{node_id}: display name must start with 'MoDiT '"
    assert info["category"].startswith("MoDiT/"), f"{node_id}: category {info['category']!r} must be under MoDiT/"
    assert isinstance(info["description"], str) and len(info["description"]) > 20, f"{node_id}: description missing"


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_stateless(node_id):
    """V3 nodes keep nothing on the class: ComfyUI runs classmethods on a locked copy of it."""
    cls = NODES[node_id]
    for name in ("define_schema", "execute", "validate_inputs", "fingerprint_inputs"):
        if name in vars(cls):
            assert isinstance(vars(cls)[name], classmethod), f"{node_id}.{name} must be a classmethod"
    own = {name for name, value in vars(cls).items() if not name.startswith("__") and not isinstance(value, classmethod)}
    assert not own, f"{node_id}: class attributes {own}; V3 nodes are stateless (keep constants at module level)"


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_inputs_are_valid_widgets(node_id):
    for section, name, entry in _inputs(node_id):
        assert isinstance(entry, tuple) and len(entry) == 2, f"{node_id}.{name}: spec must be (TYPE, opts)"
        kind, opts = entry
        assert opts.get("tooltip"), f"{node_id}.{name}: every input needs a tooltip"
        assert isinstance(kind, str), f"{node_id}.{name}: type must be a string"
        if kind == "COMBO":
            assert opts.get("options"), f"{node_id}.{name}: empty combo"
            if "default" in opts:
                assert opts["default"] in opts["options"], f"{node_id}.{name}: default {opts['default']!r} not in its list"
        elif kind in ("INT", "FLOAT"):
            assert "default" in opts, f"{node_id}.{name}: numeric widget needs a default"
            low, high = opts.get("min", float("-inf")), opts.get("max", float("inf"))
            assert low <= opts["default"] <= high, f"{node_id}.{name}: default outside [{low}, {high}]"
            if kind == "INT":
                assert isinstance(opts["default"], int), f"{node_id}.{name}: INT default must be int"
        elif kind not in CORE_TYPES:
            assert kind.startswith("MODIT_"), f"{node_id}.{name}: pack type {kind!r} must start with MODIT_"


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_outputs_agree(node_id):
    info = INFO[node_id]
    types = info["output"]
    for kind in types:
        assert kind in CORE_TYPES or kind.startswith("MODIT_"), f"{node_id}: output type {kind!r}"
    assert len(info["output_name"]) == len(types), f"{node_id}: output names and types differ in length"
    assert all(info["output_tooltips"]) and len(info["output_tooltips"]) == len(types), \
        f"{node_id}: every output needs a tooltip"
    assert types or info["output_node"], f"{node_id}: a node with no outputs must be an output node"


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_execute_matches_inputs(node_id):
    cls, spec = NODES[node_id], INFO[node_id]["input"]
    declared = set(spec.get("required", {})) | set(spec.get("optional", {}))
    params = inspect.signature(cls.execute).parameters
    accepted = {n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    assert accepted == declared, f"{node_id}: execute parameters {sorted(accepted)} != declared inputs {sorted(declared)}"
    for name in spec.get("optional", {}):
        assert params[name].default is not inspect.Parameter.empty, f"{node_id}.{name}: optional input needs a default"
    for hook in ("validate_inputs", "fingerprint_inputs"):
        if hook in vars(cls):
            unknown = set(inspect.signature(getattr(cls, hook)).parameters) - declared - {"input_types"}
            assert not unknown, f"{node_id}: {hook} takes undeclared inputs {unknown}"


def test_run_node_refuses_a_node_that_keeps_state(monkeypatch):
    """run_node holds nodes to V3 statelessness, as ComfyUI's locked class copy does."""
    cls = NODES["MoDiTPreviewMotion"]

    def stateful(klass, **inputs):
        klass.cache = inputs
        return io.NodeOutput(None)

    monkeypatch.setattr(cls, "execute", classmethod(stateful))
    try:
        with pytest.raises(RuntimeError, match="stateless"):
            nodes.run_node("MoDiTPreviewMotion", motion=None, width=256, height=192)
    finally:
        if "cache" in vars(cls):
            delattr(cls, "cache")
