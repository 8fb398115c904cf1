"""Write the README's node reference from the nodes' V3 schemas (so it is never hand-written twice).

    python scripts/node_reference.py          # rewrite the section between the markers in README.md
    python scripts/node_reference.py --check  # exit 1 if README.md is out of date
"""
import argparse
import os
import sys

from _pack import PACK_ROOT, load_pack  # scripts/ sibling: the one pack loader

BEGIN, END = "<!-- node-reference:begin -->", "<!-- node-reference:end -->"


def _kind(entry):
    kind = entry[0]
    return "choice" if kind == "COMBO" else kind


def render() -> str:
    nodes = load_pack().nodes
    infos = sorted((nodes.node_info(cls) for cls in nodes.NODES.values()), key=lambda info: (info["category"], info["name"]))
    lines = []
    for info in infos:
        lines.append(f"### {info['display_name']} (`{info['name']}`, {info['category']})\n")
        lines.append(info["description"].strip() + "\n")
        spec = info["input"]
        rows = [(section, name, entry) for section in ("required", "optional") for name, entry in spec.get(section, {}).items()]
        if rows:
            lines.append("| input | type | default | what it does |\n|---|---|---|---|")
            for section, name, entry in rows:
                opts = entry[1] if len(entry) > 1 else {}
                default = opts.get("default", "")
                optional = " (optional)" if section == "optional" else ""
                tip = opts.get("tooltip", "").replace("|", "\\|").replace("\n", " ")
                lines.append(f"| `{name}`{optional} | {_kind(entry)} | {default!s} | {tip} |")
            lines.append("")
        outputs = zip(info["output_name"], info["output"], info["output_tooltips"])
        lines.append("Outputs: " + "; ".join(f"`{n}` ({t}): {tip}" for n, t, tip in outputs) + "\n" if info["output"] else "Outputs: none (output node).\n")
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    path = os.path.join(PACK_ROOT, "README.md")
    with open(path) as f:
        text = f.read()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    updated = f"{head}{BEGIN}\n{render()}{END}{tail}"
    if args.check:
        if updated != text:
            print("README.md node reference is out of date: run python scripts/node_reference.py")
            return 1
        return 0
    with open(path, "w") as f:
        f.write(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
