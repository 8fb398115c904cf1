"""bench_end_to_end's inputs: the sample speech repeated to the asked length, written without holding the clip.

The bench reports each generate run's peak RSS from its ru_maxrss, which Linux never reports below the spawning
process's own peak; an hour of speech held by the bench (317 MB) once passed for 160 MB of the run's own."""
import os
import subprocess
import sys

import numpy as np
import pytest

from ..bench_files import load_bench_module

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "bench", "bench_end_to_end.py")


def test_speech_is_the_sample_repeated_to_the_length(tmp_path):
    soundfile = pytest.importorskip("soundfile")
    cv2 = pytest.importorskip("cv2")
    bench = load_bench_module("bench_end_to_end")
    bench.WRITE_BLOCK = 10_000  # several blocks, none aligned with the sample's length
    image, audio = bench.make_inputs(str(tmp_path), 7.5, 48)
    written, rate = soundfile.read(audio, dtype="float32")
    speech, speech_rate = soundfile.read(os.path.join(ROOT, "samples", "speech.wav"), dtype="float32")
    assert rate == speech_rate and len(written) == int(7.5 * rate)
    expected = np.tile(speech, -(-len(written) // len(speech)))[: len(written)]
    assert np.abs(written - expected).max() <= 1 / 32768  # 16-bit wav of the same samples
    assert soundfile.info(audio).subtype == "PCM_16"
    assert cv2.imread(image).shape == (48, 48, 3)


def _peak_after_inputs(tmp_path, seconds: float) -> float:
    code = (f"import importlib.util, sys; spec = importlib.util.spec_from_file_location('b', {BENCH!r}); "
            f"b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b); "
            f"b.make_inputs({str(tmp_path)!r}, {seconds}, 32); "
            f"print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    # VmHWM, this process's own high-water mark: its ru_maxrss would start at the peak of pytest, its parent
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout) / 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc (Linux)")
def test_the_bench_peak_does_not_grow_with_the_clip(tmp_path):
    pytest.importorskip("soundfile")
    pytest.importorskip("cv2")
    short, long = _peak_after_inputs(tmp_path, 5), _peak_after_inputs(tmp_path, 600)
    # 10 minutes at 22.05 kHz is 50 MiB as float32 (plus 25 MiB as int16 while written); held whole, it would show
    assert long - short < 20, (short, long)
