"""Every node class honours ComfyUI's V1 contract, so the pack loads and its widgets validate."""
import inspect

import pytest

from comfyui_modit.nodes import NODE_CLASS_MAPPINGS as NODES
from comfyui_modit.nodes import NODE_DISPLAY_NAME_MAPPINGS as DISPLAY

# Types ComfyUI core defines; everything else a node of ours declares must be a MODIT_ type.
CORE_TYPES = {"IMAGE", "MASK", "AUDIO", "INT", "FLOAT", "STRING", "BOOLEAN", "VIDEO", "LATENT",
              "AUDIO_ENCODER_OUTPUT", "FACE_LANDMARKS", "BOUNDING_BOX", "*"}


def _inputs(cls):
    spec = cls.INPUT_TYPES()
    assert set(spec) <= {"required", "optional", "hidden"}, f"{cls.__name__}: unknown INPUT_TYPES sections {set(spec)}"
    for section in ("required", "optional"):
        for name, entry in spec.get(section, {}).items():
            yield section, name, entry


def test_pack_has_nodes():
    assert NODES, "the pack registers no nodes"


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_identity(node_id):
    cls = NODES[node_id]
    assert node_id.startswith("MoDiT"), node_id
    assert DISPLAY.get(node_id, "").startswith("MoDiT "), f"{node_id}: display name must start with 'MoDiT '"
    assert cls.CATEGORY.startswith("MoDiT/"), f"{node_id}: CATEGORY {cls.CATEGORY!r} must be under MoDiT/"
    assert isinstance(cls.DESCRIPTION, str) and len(cls.DESCRIPTION) > 20, f"{node_id}: DESCRIPTION missing"


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_inputs_are_valid_widgets(node_id):
    cls = NODES[node_id]
    for section, name, entry in _inputs(cls):
        assert isinstance(entry, tuple) and 1 <= len(entry) <= 2, f"{node_id}.{name}: spec must be (TYPE, opts)"
        kind = entry[0]
        opts = entry[1] if len(entry) == 2 else {}
        assert opts.get("tooltip"), f"{node_id}.{name}: every input needs a tooltip"
        if isinstance(kind, (list, tuple)):
            assert kind, f"{node_id}.{name}: empty combo"
            if "default" in opts:
                assert opts["default"] in kind, f"{node_id}.{name}: default {opts['default']!r} not in its list"
            continue
        assert isinstance(kind, str), f"{node_id}.{name}: type must be a string or a combo list"
        if kind in ("INT", "FLOAT"):
            assert "default" in opts, f"{node_id}.{name}: numeric widget needs a default"
            low, high = opts.get("min", float("-inf")), opts.get("max", float("inf"))
            assert low <= opts["default"] <= high, f"{node_id}.{name}: default outside [{low}, {high}]"
            if kind == "INT":
                assert isinstance(opts["default"], int), f"{node_id}.{name}: INT default must be int"
        elif kind not in CORE_TYPES:
            assert kind.startswith("MODIT_"), f"{node_id}.{name}: pack type {kind!r} must start with MODIT_"


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_outputs_agree(node_id):
    cls = NODES[node_id]
    types = cls.RETURN_TYPES
    assert isinstance(types, tuple)
    for kind in types:
        assert kind in CORE_TYPES or kind.startswith("MODIT_"), f"{node_id}: output type {kind!r}"
    names = getattr(cls, "RETURN_NAMES", types)
    tips = getattr(cls, "OUTPUT_TOOLTIPS", None)
    assert len(names) == len(types), f"{node_id}: RETURN_NAMES and RETURN_TYPES differ in length"
    assert tips is not None and len(tips) == len(types), f"{node_id}: OUTPUT_TOOLTIPS must give one tip per output"
    assert types or getattr(cls, "OUTPUT_NODE", False), f"{node_id}: a node with no outputs must be an OUTPUT_NODE"


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_function_matches_inputs(node_id):
    cls = NODES[node_id]
    function = getattr(cls, cls.FUNCTION, None)
    assert callable(function), f"{node_id}: FUNCTION {cls.FUNCTION!r} is not a method"
    spec = cls.INPUT_TYPES()
    declared = set(spec.get("required", {})) | set(spec.get("optional", {})) | set(spec.get("hidden", {}))
    params = inspect.signature(function).parameters
    accepted = {n for n, p in params.items() if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    assert accepted == declared, f"{node_id}: function parameters {sorted(accepted)} != declared inputs {sorted(declared)}"
    for name in spec.get("optional", {}):
        assert params[name].default is not inspect.Parameter.empty, f"{node_id}.{name}: optional input needs a default"
    if "VALIDATE_INPUTS" in vars(cls):
        validator = inspect.signature(cls.VALIDATE_INPUTS).parameters
        unknown = set(validator) - declared - {"input_types"}
        assert not unknown, f"{node_id}: VALIDATE_INPUTS takes undeclared inputs {unknown}"
