"""How the files in this folder reach the pack: modit_app/pack.py, the one loader (also used by the CLI and tests).

    from _pack import PACK_ROOT, load_pack   # this folder is sys.path[0] when one of its files runs
    pack = load_pack()                        # the pack as `comfyui_modit`: pack.nodes, pack.modit, pack.modit_app

Loaded by its path, so no folder is added to sys.path and `modit` is never imported under a second name.
"""
import importlib.util
import os

_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "modit_app", "pack.py")
_spec = importlib.util.spec_from_file_location("modit_pack_loader", _FILE)
_loader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_loader)

PACK_NAME, PACK_ROOT, load_pack = _loader.PACK_NAME, _loader.PACK_ROOT, _loader.load_pack
