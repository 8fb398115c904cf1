"""python -m modit_app.batch: the batch client on its own (also `python -m modit_app batch`); see run.py."""
import sys

from .run import main

sys.exit(main())
