"""Every node of the pack (V3: io.ComfyNode), gathered from one module per pipeline stage, and the extension
ComfyUI loads them through.

Outside ComfyUI (tests, benches, scripts, the CLI) look nodes up by id in NODES and run them with run_node.
"""
from . import audio, blink, face, lip_reference, motion, motion_extract, motion_tools, quality, render
from .comfy_io import ComfyExtension, io
from .object_info import node_info  # noqa: F401 (the /object_info view of a node, for scripts and tests)

STAGES = (audio, face, motion, blink, motion_tools, motion_extract, lip_reference, render, quality)
NODE_LIST = tuple(node for stage in STAGES for node in stage.NODES)
# Each node's id is its class name (tests/test_node_contract.py holds them to it), so the lookup needs no schema.
NODES = {node.__name__: node for node in NODE_LIST}


class MoDiTExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODE_LIST)


async def comfy_entrypoint() -> MoDiTExtension:
    """What ComfyUI calls to load the pack (V3)."""
    return MoDiTExtension()


def outputs_of(result) -> tuple:
    """The output values of what `execute` returned (a NodeOutput; a plain tuple or None as ComfyUI allows)."""
    if result is None:
        return ()
    if isinstance(result, tuple):
        return result
    return tuple(result.args)


def run_node_with_ui(node_id: str, **inputs) -> tuple[tuple, dict | None]:
    """Run node `node_id` as ComfyUI would (execute with the inputs by name): (outputs tuple, ui dict or None).

    V3 nodes are stateless: an execute that sets anything on its class raises here, as it does in ComfyUI.
    """
    node = NODES[node_id]
    before = dict(vars(node))
    result = node.execute(**inputs)
    after = dict(vars(node))
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) is not after.get(name))
    if changed:
        raise RuntimeError(f"{node_id}: execute changed its class ({changed}); V3 nodes are stateless, keep "
                           f"caches at module level or in outputs")
    return outputs_of(result), getattr(result, "ui", None)


def run_node(node_id: str, **inputs) -> tuple:
    """Run node `node_id` with these inputs; its outputs in socket order."""
    return run_node_with_ui(node_id, **inputs)[0]
