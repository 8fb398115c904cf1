"""Batch client: queue many (portrait, speech) pairs through one or several ComfyUI servers' HTTP API.

Standard library only, so it runs from any Python: `python -m modit_app batch --help` (run.py is the program).
"""
