"""Write the bundled workflows in both formats (workflows/*.json for the UI, workflows/api/*.json for the API)
from one description per graph, using the real node specs (ours from the nodes' V3 schemas, core from ComfyUI
0.27's /object_info, both in /object_info form), so the two formats cannot drift apart.

    python scripts/build_workflows.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root, so `modit` is a package (modit/types.py must not shadow the stdlib types)
from modit.pack import PACK_ROOT, load_pack  # noqa: E402

OBJECT_INFO = os.path.join(PACK_ROOT, "tests", "data", "comfyui-0.27.0-object_info.json")
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
PACK_ID = "modit-talking-head"


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


class Graph:
    """A workflow under construction: add(...) nodes, link by passing (node, output_name) as an input value."""

    def __init__(self, name: str, title: str):
        self.name, self.title = name, title
        self.nodes = []  # (id, class_type, values, pos, title, properties)
        self.notes = []

    def add(self, class_type: str, pos: tuple, title: str | None = None, properties: dict | None = None, **values):
        node_id = len(self.nodes) + 1
        self.nodes.append((node_id, class_type, values, pos, title, properties or {}))
        return node_id

    def note(self, text: str, pos: tuple, size=(420, 160)):
        self.notes.append((text, pos, size))

    # ------------------------------------------------------------------------------------------- API
    def api(self, specs) -> dict:
        graph = {}
        for node_id, kind, values, _, title, _ in self.nodes:
            spec = specs[kind]
            inputs = {}
            for key, value in values.items():
                if key not in {n for n, _, _ in spec["inputs"]}:
                    raise ValueError(f"{self.name}: {kind} has no input {key!r}")
                if isinstance(value, tuple):
                    source, output = value
                    inputs[key] = [str(source), self._output_index(specs, source, output)]
                else:
                    inputs[key] = value
            for key, kind_, opts in spec["inputs"]:  # widgets left unset take their defaults
                if key not in inputs and kind_ in WIDGET_TYPES and "default" in opts:
                    inputs[key] = opts["default"]
            graph[str(node_id)] = {"class_type": kind, "inputs": inputs, "_meta": {"title": title or specs[kind].get("display", kind)}}
        return graph

    @staticmethod
    def _ui_inputs(specs, kind: str, values: dict) -> list:
        """(name, type) of the node's UI input slots: sockets, and widgets that this graph links."""
        return [(n, k) for n, k, _ in specs[kind]["inputs"]
                if k not in WIDGET_TYPES or isinstance(values.get(n), tuple)]

    def _output_index(self, specs, source: int, output: str) -> int:
        kind = self.nodes[source - 1][1]
        names = [n for n, _ in specs[kind]["outputs"]]
        if output not in names:
            raise ValueError(f"{self.name}: {kind} has no output {output!r} (has {names})")
        return names.index(output)

    # -------------------------------------------------------------------------------------------- UI
    def ui(self, specs) -> dict:
        links, nodes_out = [], []
        outgoing = {}  # (node_id, slot) -> [link ids]
        for node_id, kind, values, _, _, _ in self.nodes:
            sockets = self._ui_inputs(specs, kind, values)
            for key, value in values.items():
                if isinstance(value, tuple):
                    source, output = value
                    slot = self._output_index(specs, source, output)
                    link_id = len(links) + 1
                    out_type = specs[self.nodes[source - 1][1]]["outputs"][slot][1]
                    links.append([link_id, source, slot, node_id, [n for n, _ in sockets].index(key), out_type])
                    outgoing.setdefault((source, slot), []).append(link_id)
        for order, (node_id, kind, values, pos, title, properties) in enumerate(self.nodes):
            spec = specs[kind]
            inputs = []
            for key, kind_ in self._ui_inputs(specs, kind, values):
                link = next((l[0] for l in links if l[3] == node_id and l[4] == len(inputs)), None)
                entry = {"name": key, "type": kind_, "link": link}
                if kind_ in WIDGET_TYPES:
                    entry["widget"] = {"name": key}  # a widget converted to an input because it is linked
                inputs.append(entry)
            outputs = [{"name": name, "type": type_, "links": outgoing.get((node_id, slot), []), "slot_index": slot}
                       for slot, (name, type_) in enumerate(spec["outputs"])]
            widgets = []
            for key, kind_, opts in spec["inputs"]:
                if kind_ not in WIDGET_TYPES:
                    continue
                widgets.append(values.get(key, opts.get("default")))
                if opts.get("control_after_generate"):
                    widgets.append("fixed")
                if opts.get("image_upload") or opts.get("audio_upload"):
                    widgets.append("image" if opts.get("image_upload") else "")
            props = {"Node name for S&R": kind, **({"cnr_id": "comfy-core"} if spec["core"] else {"cnr_id": PACK_ID}), **properties}
            node = {"id": node_id, "type": kind, "pos": list(pos), "size": [320, 60 + 26 * (len(widgets) + max(len(inputs), len(outputs)))],
                    "flags": {}, "order": order, "mode": 0, "inputs": inputs, "outputs": outputs,
                    "properties": props, "widgets_values": widgets}
            if title:
                node["title"] = title
            nodes_out.append(node)
        for index, (text, pos, size) in enumerate(self.notes):
            nodes_out.append({"id": len(self.nodes) + index + 1, "type": "MarkdownNote", "pos": list(pos), "size": list(size),
                              "flags": {}, "order": len(self.nodes) + index, "mode": 0, "inputs": [], "outputs": [],
                              "properties": {}, "widgets_values": [text], "color": "#432", "bgcolor": "#653"})
        return {"last_node_id": len(nodes_out), "last_link_id": len(links), "nodes": nodes_out, "links": links,
                "groups": [], "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}, "info": {"name": self.title}},
                "version": 0.4}


def write(graph: Graph, specs) -> None:
    for folder, content in ((os.path.join(PACK_ROOT, "workflows"), graph.ui(specs)),
                            (os.path.join(PACK_ROOT, "workflows", "api"), graph.api(specs))):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{graph.name}.json"), "w") as f:
            json.dump(content, f, indent=1)
            f.write("\n")


def main() -> int:
    from workflow_graphs import ALL_GRAPHS  # the graph descriptions, beside this script

    specs = node_specs()
    for build in ALL_GRAPHS:
        graph = build()
        write(graph, specs)
        print(f"wrote workflows/{graph.name}.json and workflows/api/{graph.name}.json")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
