"""python -m modit: the command line (see modit/cli.py). Loads the whole pack under one name first, so the
nodes and the library it runs are the same modules ComfyUI would use."""
import importlib
import sys

from .pack import load_pack

sys.exit(importlib.import_module(f"{load_pack().__name__}.modit.cli").main())
