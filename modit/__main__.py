"""python -m modit: the command line (see modit/cli.py). Loads the whole pack under one name first, so the
nodes and the library it runs are the same modules ComfyUI would use."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pack import load_pack  # noqa: E402  (plain import: this file runs as __main__, outside the package)

sys.exit(load_pack().modit.cli.main())
