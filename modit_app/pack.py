"""Import the whole pack (nodes + modit) under one package name outside ComfyUI: for the CLI, tests and scripts.

ComfyUI imports the pack folder as a package itself; elsewhere the folder's name is arbitrary (a clone, a
Manager install), so we give it a fixed one. Loading everything through this one name keeps a single copy
of every module, so dataclasses made by nodes are the ones the library checks against.
"""
import importlib.util
import os
import sys

PACK_NAME = "comfyui_modit"
PACK_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_pack(name: str = PACK_NAME):
    """The pack's root package (its `nodes` and `modit` subpackages hang off it)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(PACK_ROOT, "__init__.py"),
                                                  submodule_search_locations=[PACK_ROOT])
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
