"""The one way into the pack outside ComfyUI (the CLI, benches, scripts and tests all come through here).

ComfyUI imports the pack folder as a package itself; elsewhere the folder's name is arbitrary (a clone, a
Manager install), so we give it a fixed one. Loading everything through this one name keeps a single copy
of every module, so dataclasses made by nodes are the ones the library checks against.

From a file run by path (bench/*.py, scripts/*.py, tests/conftest.py), load this module by its path:

    spec = importlib.util.spec_from_file_location("modit_pack_loader", os.path.join(ROOT, "modit_app", "pack.py"))

(bench/_pack.py and scripts/_pack.py do exactly that), never by putting the repository on sys.path: then
`modit` would import a second time under its own top-level name.
"""
import importlib.util
import os
import sys

PACK_NAME = "comfyui_modit"
PACK_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_pack(name: str = PACK_NAME, root: str = PACK_ROOT):
    """The pack's root package at `root` (its `nodes`, `modit` and `modit_app` subpackages hang off it).

    One pack per process: asking for a second checkout under the same name is an error, not a silent mix.
    """
    root = os.path.abspath(root)
    if name in sys.modules:
        loaded = sys.modules[name]
        if os.path.dirname(os.path.abspath(loaded.__file__)) != root:
            raise RuntimeError(f"a pack from {loaded.__file__} is already imported as {name}; one pack per process")
        return loaded
    init = os.path.join(root, "__init__.py")
    if not os.path.isfile(init):
        raise FileNotFoundError(f"{root}: no __init__.py there; give the root of a ComfyUI-MoDiT checkout")
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[root])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loaded = False
    try:
        spec.loader.exec_module(module)
        loaded = True
    finally:
        if not loaded:  # a half-imported pack must not be found by the next attempt
            del sys.modules[name]
    return module
