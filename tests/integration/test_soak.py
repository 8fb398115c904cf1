"""Integration tier: the soak bench with 10 jobs on two real ComfyUI servers (bench/soak.py; 100 jobs is the
bench command whose figures are in the README)."""
import json
import os
import subprocess
import sys

import pytest

from .comfyui_server import ROOT, comfyui_env

ENV, WHY = comfyui_env()
pytestmark = [pytest.mark.integration, pytest.mark.skipif(ENV is None, reason=WHY)]


def test_ten_job_soak_on_two_servers(tmp_path):
    figures_path = tmp_path / "soak.json"
    # With 10 jobs the RSS baseline is job 4 (servers warm, models loaded), not job 10. Two single samples, after
    # clips of 2.7-4.9 s, differ by the allocator's high-water mark alone (+6.0 % once; +1.1 % and -5.1 % on a
    # rerun): 10 % here; the 100-job bench, whose figures are in the README, keeps 5 %.
    result = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "soak.py"), "--jobs", "10", "--rss-from", "4",
                             "--max-growth", "0.10",
                             "--workdir", str(tmp_path / "soak"), "--json", str(figures_path)],
                            capture_output=True, text=True, timeout=1500)
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    assert figures["succeeded"] == 10 and not figures["file_problems"] and figures["servers_alive_at_end"]
    assert all(r["growth"] <= 0.10 for r in figures["rss_mib"].values()), figures["rss_mib"]
