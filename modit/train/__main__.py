"""Entry point of `python -m modit.train` (see modit/train/cli.py)."""
import sys

from .cli import main

sys.exit(main())
