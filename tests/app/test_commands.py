"""python -m modit_app COMMAND: bad input to any command is one plain line naming the problem, not a traceback."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "modit_app", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def test_a_checkpoint_that_is_not_safetensors_is_named_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_text("not a safetensors file")
    result = _run("evaluate", "--checkpoint", str(bad))
    assert result.returncode == 2
    assert result.stderr.startswith("error: bad.safetensors: not a readable safetensors file"), result.stderr
    assert "Traceback" not in result.stderr


def test_the_traceback_is_there_when_asked_for(tmp_path):
    missing = tmp_path / "missing.safetensors"
    result = _run("evaluate", "--checkpoint", str(missing), env={**os.environ, "MODIT_TRACEBACK": "1"})
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "no such checkpoint file" in result.stderr


def test_generate_verbose_still_shows_where_bad_input_was_raised(tmp_path):
    """`generate -v` re-raises its own bad-input errors to show the traceback; the one-line message of every other
    command must not swallow that."""
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    result = _run("generate", "--image", str(bad), "--audio", os.path.join(ROOT, "samples", "speech.wav"),
                  "--out", str(tmp_path / "out.mp4"), "-v")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "not a readable image" in result.stderr
    assert not (tmp_path / "out.mp4").exists()
