"""The README's node reference is generated from the node classes and kept current."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_node_reference_is_current():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "node_reference.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_test_command_is_what_ci_runs():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    assert "bash .ci/run" in readme
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        assert "pytest" in f.read()
