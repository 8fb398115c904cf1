"""Print the house's shape: Python files per folder, and who imports whom between areas of the tree.

    python scripts/import_graph.py [ROOT]      # ROOT: a checkout (default: this one)

An area is a top-level folder (nodes, modit_app, bench, scripts, tests), or a subpackage of modit/ (modit.dit,
modit.render, ...; modit's own top-level modules are "modit"). Imports are read with ast, relative ones resolved,
and `comfyui_modit.X` (the pack loaded under its fixed name) counted as X. Nothing is imported or run.
"""
import ast
import collections
import os
import sys

SKIP = {".git", "__pycache__", ".venv-ci", ".venv-demo", "output", ".pytest_cache"}
PACKAGES = ("modit", "nodes", "modit_app")


def python_files(root: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP and not d.startswith(".venv"))
        found += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames if f.endswith(".py")]
    return sorted(found)


def area_of_module(dotted: str) -> str | None:
    parts = dotted.split(".")
    if parts[0] == "comfyui_modit":
        parts = parts[1:]
    if not parts or parts[0] not in PACKAGES:
        return None
    if parts[0] == "modit" and len(parts) > 2:
        return f"modit.{parts[1]}"
    if parts[0] == "modit" and len(parts) == 2 and parts[1] in SUBPACKAGES:
        return f"modit.{parts[1]}"
    return parts[0]


def area_of_file(rel: str) -> str:
    parts = rel.split(os.sep)
    if parts[0] == "modit" and len(parts) > 2:
        return f"modit.{parts[1]}"
    return parts[0] if len(parts) > 1 else "(root)"


def imports(root: str, rel: str):
    package = os.path.dirname(rel).split(os.sep) if os.path.dirname(rel) else []
    tree = ast.parse(open(os.path.join(root, rel)).read(), rel)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.module or ""
                continue
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                yield ".".join(base + [node.module])
            else:  # from .. import nodes, cli
                yield from (".".join(base + [alias.name]) for alias in node.names)


def main(root: str) -> int:
    global SUBPACKAGES
    SUBPACKAGES = {d for d in os.listdir(os.path.join(root, "modit")) if os.path.isdir(os.path.join(root, "modit", d))}
    files = python_files(root)
    print("Python files per folder")
    for folder, count in sorted(collections.Counter(os.path.dirname(f) or "." for f in files).items()):
        print(f"  {count:3d}  {folder}/")
    print(f"  {len(files):3d}  in all")
    edges = collections.defaultdict(set)
    for rel in files:
        for module in imports(root, rel):
            target = area_of_module(module)
            source = area_of_file(rel)
            if target and target != source:
                edges[source].add(target)
    print("\nWho imports whom (area -> areas it imports)")
    for source in sorted(edges):
        print(f"  {source:22s} -> {', '.join(sorted(edges[source]))}")
    upward = sorted(s for s in edges if s.startswith("modit") and s != "modit_app"
                    and edges[s] & {"nodes", "modit_app"})
    print("\nmodit/ importing nodes/ or modit_app/:", ", ".join(upward) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
