"""Write the bundled workflows in both formats (workflows/*.json for the UI, workflows/api/*.json for the API)
from one description per graph, using the real node specs (ours from the nodes' V3 schemas, core from ComfyUI
0.27's /object_info, both in /object_info form), so the two formats cannot drift apart.

    python scripts/build_workflows.py
"""
import json
import os
import sys

from _pack import PACK_ROOT, load_pack  # scripts/ siblings (scripts/ is sys.path[0] when this file runs)
from graph_builder import Graph
from workflow_graphs import ALL_GRAPHS

OBJECT_INFO = os.path.join(PACK_ROOT, "tests", "data", "comfyui-0.27.0-object_info.json")


def node_specs() -> dict:
    """{class_type: {"inputs": [(name, type, opts)] in widget order, "outputs": [(name, type)]}}."""
    with open(OBJECT_INFO) as f:
        core = json.load(f)
    nodes = load_pack().nodes
    ours = {node_id: nodes.node_info(cls) for node_id, cls in nodes.NODES.items()}  # the same /object_info form
    specs = {}
    for name, info in {**core, **ours}.items():
        order = info.get("input_order", {})
        inputs = []
        for section in ("required", "optional"):
            entries = info["input"].get(section, {})
            for key in order.get(section, list(entries)):
                entry = entries[key]
                inputs.append((key, _kind(entry[0]), entry[1] if len(entry) > 1 else {}))
        specs[name] = {"inputs": inputs, "outputs": list(zip(info["output_name"], info["output"])),
                       "core": name not in ours}
        if name in ours:
            specs[name]["display"] = info["display_name"]
    return specs


def _kind(kind):
    return "COMBO" if isinstance(kind, (list, tuple)) else kind


def write(graph: Graph, specs) -> None:
    for folder, content in ((os.path.join(PACK_ROOT, "workflows"), graph.ui(specs)),
                            (os.path.join(PACK_ROOT, "workflows", "api"), graph.api(specs))):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{graph.name}.json"), "w") as f:
            json.dump(content, f, indent=1)
            f.write("\n")


def main() -> int:
    specs = node_specs()
    for build in ALL_GRAPHS:
        graph = build()
        write(graph, specs)
        print(f"wrote workflows/{graph.name}.json and workflows/api/{graph.name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
