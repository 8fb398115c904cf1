"""Bench-only code (bench/<name>.py, not part of the pack) for the tests that check its meters, loaded by its path."""
import importlib.util
import os

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")


def load_bench_module(name: str):
    """bench/<name>.py as a fresh module named `name`."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCH, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
