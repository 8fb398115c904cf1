"""A node's entry as ComfyUI's GET /object_info shows it, read from its V3 schema.

Scripts (README node reference, workflow builder) and the contract tests read our nodes through this, in the same
format as the core nodes' specs saved from a real ComfyUI 0.27.0 (tests/data/comfyui-0.27.0-object_info.json);
the integration tier checks it against what a real ComfyUI serves. Works with the real `io` and the stand-in.
"""
from .comfy_io import io

# The /object_info keys this view gives (a real ComfyUI adds more: deprecated, api_node, price_badge, ...).
KEYS = ("name", "display_name", "category", "description", "input", "input_order", "is_input_list", "output",
        "output_is_list", "output_name", "output_tooltips", "output_node")


def node_info(cls: type[io.ComfyNode]) -> dict:
    """{"input": {"required": {name: (TYPE, options)}, "optional": ..., "hidden": ...}, "output": [...], ...}."""
    schema = cls.define_schema()
    schema.finalize()
    schema.validate()
    inputs = {"required": {}}
    for socket in schema.inputs:
        options = socket.as_dict()
        options.pop("optional", None)
        section = "optional" if socket.optional else "required"
        inputs.setdefault(section, {})[socket.id] = (socket.get_io_type(), options)
    for hidden in schema.hidden:
        inputs.setdefault("hidden", {})[hidden.name] = (hidden.value,)
    return {
        "name": schema.node_id,
        "display_name": schema.display_name,
        "category": schema.category,
        "description": schema.description,
        "input": inputs,
        "input_order": {section: list(entries) for section, entries in inputs.items()},
        "is_input_list": schema.is_input_list,
        "output": [output.io_type for output in schema.outputs],
        "output_is_list": [output.is_output_list for output in schema.outputs],
        "output_name": [output.display_name or output.io_type for output in schema.outputs],
        "output_tooltips": [output.tooltip for output in schema.outputs],
        "output_node": schema.is_output_node,
    }
