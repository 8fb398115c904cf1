"""The tree keeps its layers (issue 17): modit/ is a library, nodes/ the one door to ComfyUI, modit_app/ the programs.

- modit/ imports nothing of nodes/ or modit_app/ (relative imports stay inside modit/, no absolute pack imports);
- modit/ parses no arguments, prints nothing, exits no process, configures no logging, edits no sys.path and
  writes no environment variable;
- nodes/ never imports modit_app/; bench/ and scripts/ reach the pack only through modit_app/pack.py, and no file
  of bench/, scripts/, modit_app/ or tests/ edits sys.path (test helpers are imported relatively).
Read from the source with ast: nothing is imported or run.
"""
import ast
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACK_PARTS = ("modit", "nodes", "modit_app")


def _python_files(folder: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, folder)):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "__pycache__"))]
        found += [os.path.join(dirpath, f) for f in filenames if f.endswith(".py")]
    return sorted(found)


def _imports(path: str):
    """(line, the imported module as a dotted name from the repository root) for every import in `path`;
    absolute imports come back as written."""
    rel = os.path.relpath(path, ROOT)
    package = os.path.dirname(rel).split(os.sep)
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                module = node.module or ""
            elif node.level - 1 > len(package):
                module = "<above the repository>"
            else:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            if module:
                yield node.lineno, module
            for alias in node.names:  # `from .. import nodes`: the name may be a module
                yield node.lineno, f"{module}.{alias.name}" if module else alias.name


def _violations_of_library(path: str) -> list[str]:
    found = []
    rel = os.path.relpath(path, ROOT)
    for line, module in _imports(path):
        top = module.split(".")[0]
        if top in ("nodes", "modit_app", "comfyui_modit", "<above the repository>") or top == "argparse":
            found.append(f"{rel}:{line} imports {module}")
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        text = ast.unparse(node) if isinstance(node, (ast.Call, ast.Assign, ast.AugAssign, ast.Attribute)) else ""
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name in ("print", "sys.exit", "exit", "logging.basicConfig", "os.putenv", "os.unsetenv") or \
                    name.startswith(("os.environ.", "sys.path.")) and not name.endswith((".get", ".copy")):
                found.append(f"{rel}:{node.lineno} calls {name}")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                if ast.unparse(target).startswith(("os.environ[", "sys.path", "sys.argv")):
                    found.append(f"{rel}:{node.lineno} writes {ast.unparse(target)}")
        elif isinstance(node, ast.Attribute) and text in ("sys.argv", "sys.stdout", "sys.stderr"):
            found.append(f"{rel}:{node.lineno} uses {text}")
    return found


def test_the_library_is_a_library():
    files = _python_files("modit")
    assert len(files) > 50
    problems = [problem for path in files for problem in _violations_of_library(path)]
    assert not problems, "modit/ must stay a library (programs go to modit_app/):\n" + "\n".join(problems)


def test_the_library_has_no_entry_points():
    mains = [os.path.relpath(p, ROOT) for p in _python_files("modit") if os.path.basename(p) == "__main__.py"]
    guarded = [os.path.relpath(p, ROOT) for p in _python_files("modit") if "__name__ == \"__main__\"" in open(p).read()]
    assert not mains and not guarded, f"programs in the library: {mains + guarded}; move them to modit_app/"


@pytest.mark.parametrize("folder", ["nodes"])
def test_nodes_never_import_the_programs(folder):
    problems = [f"{os.path.relpath(path, ROOT)}:{line} imports {module}" for path in _python_files(folder)
                for line, module in _imports(path) if module.split(".")[0] in ("modit_app", "comfyui_modit")]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("folder", ["bench", "scripts", "modit_app", "tests"])
def test_programs_reach_the_pack_through_the_one_loader(folder):
    """No sys.path edits and no absolute `modit` imports (that would load modit a second time, under its own name)."""
    problems = []
    for path in _python_files(folder):
        if re.search(r"^\s*sys\.path\.(insert|append|extend)\(|^\s*sys\.path\s*[+]?=", open(path).read(), re.M):
            problems.append(f"{os.path.relpath(path, ROOT)} edits sys.path")
        problems += [f"{os.path.relpath(path, ROOT)}:{line} imports {module} (load the pack: _pack.load_pack())"
                     for line, module in _imports(path) if module.split(".")[0] in ("modit", "nodes")
                     and folder in ("bench", "scripts")]
    assert not problems, "\n".join(problems)


def _module_graph(folders=("modit", "nodes", "modit_app", "scripts")) -> dict:
    """{module: modules it imports, at module level or inside a function} over the pack and scripts/."""
    names = {}
    for folder in folders:
        for path in _python_files(folder):
            rel = os.path.relpath(path, ROOT)
            name = rel[:-3].replace(os.sep, ".")
            names[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    graph = {}
    for name, path in names.items():
        targets = set()
        for _, module in _imports(path):
            if path.startswith(os.path.join(ROOT, "scripts")) and f"scripts.{module}" in names:
                module = f"scripts.{module}"  # scripts/ import each other as siblings
            if module in names:
                targets.add(module)
        # a package importing its own submodules (or a module its parent package) is not a loop of the tree
        graph[name] = {t for t in targets if t != name and not name.startswith(t + ".")}
    return graph


def test_no_import_loops():
    """Issue 17 broke corpus/generate <-> train/evaluate and build_workflows <-> workflow_graphs; none may come back,
    not even through a function-local import."""
    graph = _module_graph()
    loops = []
    state = {}  # module -> "active" while on the DFS path, "done" after

    def visit(module, path):
        state[module] = "active"
        for target in sorted(graph[module]):
            if state.get(target) == "active":
                loops.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not loops, "import loops:\n" + "\n".join(loops)
