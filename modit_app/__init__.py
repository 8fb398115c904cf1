"""The programs around the MoDiT library: `python -m modit_app COMMAND --help` (see __main__.py for the list).

modit/ is the library (no argument parsing, no printing, no process state); everything that parses a command
line, prints a result, sets up logging or runs a workflow outside ComfyUI lives here. Nothing under modit/ or
nodes/ imports this package. Importing it is free: each command imports what it needs when it runs.
"""
