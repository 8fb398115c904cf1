"""bench_cold_start.py, the script a GPU session runs in gpu_check.sh, still runs on the CPU and reports every stage
(its figures are for people to read; nothing here checks a time)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGES = ("import torch", "import the pack", "face analysis", "Whisper + mel features", "DiT sampling", "render 16")


def test_every_stage_is_reported_with_a_first_and_a_second_call():
    pytest.importorskip("soundfile")
    pytest.importorskip("cv2")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_cold_start.py"), "--device", "cpu",
                           "--seconds", "2"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line[:40].strip(): line[40:].split() for line in done.stdout.splitlines() if not line.startswith("#")}
    for stage in STAGES:
        found = [cells for name, cells in rows.items() if name.startswith(stage)]
        assert found, f"no row for {stage!r} in:\n{done.stdout}"
        assert len(found[0]) == (1 if stage.startswith("import") else 2)
