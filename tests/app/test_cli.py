"""python -m modit_app generate: the default workflow end to end (the basic template's file, written as it renders),
a file that is never clobbered, plain errors."""
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORTRAIT = os.path.join(ROOT, "samples", "portrait.png")


def _generate(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "modit_app", "generate", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture
def speech(tmp_path):
    """The first 2.5 s of the bundled speech at 44.1 kHz stereo: 63 frames at 25 fps (62.5 rounded up)."""
    import scipy.signal

    audio, rate = soundfile.read(os.path.join(ROOT, "samples", "speech.wav"), dtype="float32")
    audio = scipy.signal.resample_poly(audio[: int(2.5 * rate)], 2, 1)
    path = tmp_path / "speech.wav"
    soundfile.write(path, np.stack([audio, 0.5 * audio], 1), 2 * rate)
    return str(path)


def test_generate_writes_an_aligned_talking_head(tmp_path, speech):
    import av

    out = tmp_path / "clip.mp4"
    result = _generate("--image", PORTRAIT, "--audio", speech, "--out", str(out), "--steps", "4")
    assert result.returncode == 0, result.stderr[-3000:]
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video)]
        fps = float(video.average_rate)
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(audio))
    assert len(frames) == 63 and fps == 25.0 and frames[0].shape == (512, 512, 3)
    assert abs(samples / audio.rate - 63 / 25) < 1024 / audio.rate + 1e-9, "the audio covers the frames exactly"
    assert not any(name.endswith(".partial") for name in os.listdir(tmp_path)), "no staging left behind"
    mouth = np.stack([f[150:200, 180:250].astype(np.float32) for f in frames])
    assert mouth.std(axis=0).mean() > 2.0, "the mouth moves"


def test_the_default_workflow_writes_the_basic_templates_file_bit_for_bit(tmp_path, speech):
    # The CLI renders straight to the file (MoDiT Render To Video); the basic template returns frames to Save Video.
    streamed, basic = tmp_path / "streamed.mp4", tmp_path / "basic.mp4"
    template = os.path.join(ROOT, "workflows", "api", "modit_basic.json")
    for out, extra in ((streamed, ()), (basic, ("--workflow", template))):
        result = _generate("--image", PORTRAIT, "--audio", speech, "--out", str(out), "--steps", "1", *extra)
        assert result.returncode == 0, result.stderr[-3000:]
    assert streamed.read_bytes() == basic.read_bytes()


def test_generate_never_replaces_a_file_without_overwrite(tmp_path, speech):
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"precious")
    result = _generate("--image", PORTRAIT, "--audio", speech, "--out", str(out))
    assert result.returncode != 0 and "--overwrite" in result.stderr
    assert out.read_bytes() == b"precious"


def test_repeat_runs_the_workflow_again_in_one_process_and_writes_one_file(tmp_path, speech):
    import json

    refused = _generate("--image", PORTRAIT, "--audio", speech, "--out", str(tmp_path / "none.mp4"), "--repeat", "0")
    assert refused.returncode == 2 and "--repeat" in refused.stderr and not (tmp_path / "none.mp4").exists()
    out, timings = tmp_path / "twice.mp4", tmp_path / "timings.json"
    result = _generate("--image", PORTRAIT, "--audio", speech, "--out", str(out), "--steps", "1", "--repeat", "2",
                       "--timings", str(timings))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("flow render:") == 2, "the workflow ran twice"
    assert sorted(os.listdir(tmp_path)) == sorted(["speech.wav", "twice.mp4", "timings.json"])
    assert {entry["class_type"] for entry in json.loads(timings.read_text())} >= {"MoDiTSampleExpression"}


def test_bad_inputs_give_plain_errors(tmp_path, speech):
    blank = tmp_path / "blank.png"
    import cv2

    cv2.imwrite(str(blank), np.full((256, 256, 3), 200, np.uint8))
    no_face = _generate("--image", str(blank), "--audio", speech, "--out", str(tmp_path / "a.mp4"))
    assert no_face.returncode == 2 and "no face found" in no_face.stderr and "Traceback" not in no_face.stderr
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF")
    bad_audio = _generate("--image", PORTRAIT, "--audio", str(broken), "--out", str(tmp_path / "b.mp4"))
    assert bad_audio.returncode == 2 and "not a readable audio file" in bad_audio.stderr
    assert not (tmp_path / "a.mp4").exists() and not (tmp_path / "b.mp4").exists()


def test_streaming_workflow_soundtrack_is_the_input(tmp_path, speech):
    """The long-audio workflow (Render To Video) on a short clip, through the CLI's streamed (file-backed) audio:
    every frame is there, the audio track covers the frames and is the input's mono mix (after AAC)."""
    import av

    out = tmp_path / "long.mp4"
    workflow = os.path.join(ROOT, "workflows", "api", "modit_long_audio_to_file.json")
    result = _generate("--image", PORTRAIT, "--audio", speech, "--out", str(out), "--steps", "2",
                       "--workflow", workflow)
    assert result.returncode == 0, result.stderr[-3000:]
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        track = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
    source, source_rate = soundfile.read(speech, dtype="float32")
    mono = source.mean(1)  # the features' aligned audio: the mono mix at the source rate
    assert frames == 63 and rate == source_rate
    assert abs(track.shape[0] / rate - 63 / 25) < 1024 / rate + 1e-9, "the audio covers the frames exactly"
    # AAC adds a priming delay and coding noise: find the lag, then the two must agree closely
    n = mono.shape[0]
    lags = range(0, 4096)
    scores = [float(np.dot(track[lag:lag + n - 4096], mono[:n - 4096])) for lag in lags]
    lag = int(np.argmax(scores))
    a, b = track[lag:lag + n - 4096], mono[:n - 4096]
    assert np.corrcoef(a, b)[0, 1] > 0.98, "the soundtrack is the input speech"
    assert np.sqrt(np.mean(a ** 2)) == pytest.approx(np.sqrt(np.mean(b ** 2)), rel=0.05), "at the input's level"


def test_mouth_style_picks_the_render_nodes_choice(tmp_path, monkeypatch):
    """--mouth-style sets the render node's mouth_style ('cavity (no teeth)' for a baby); an unknown style is refused
    with the choices, before anything runs."""
    from comfyui_modit.modit_app import cli, graph_runner

    seen = {}

    def run_graph(graph, node_classes, timings, output_dir, video_path, progress):  # writes an empty "video"
        seen.update(graph)
        path = os.path.join(output_dir, "written.mp4")
        open(path, "wb").close()
        return {i: (path,) for i, node in graph.items() if node["class_type"] == "MoDiTRenderToVideo"}

    monkeypatch.setattr(graph_runner, "run_graph", run_graph)
    speech = os.path.join(ROOT, "samples", "speech.wav")
    out = tmp_path / "clip.mp4"
    assert cli.main(["--image", PORTRAIT, "--audio", speech, "--out", str(out), "--mouth-style",
                     "cavity (no teeth)"]) == 0
    styles = [node["inputs"]["mouth_style"] for node in seen.values() if "mouth_style" in node["inputs"]]
    assert styles == ["cavity (no teeth)"] and out.exists()
    refused = _generate("--image", PORTRAIT, "--audio", speech, "--out", str(tmp_path / "b.mp4"), "--mouth-style",
                        "toothless")
    assert refused.returncode == 2 and "cavity (no teeth)" in refused.stderr and not (tmp_path / "b.mp4").exists()


@pytest.mark.parametrize("value", ["two", "0"])
def test_a_bad_render_workers_variable_is_refused_before_anything_runs(tmp_path, monkeypatch, capsys, value):
    """MODIT_CPU_RENDER_WORKERS is read when the render starts; the CLI checks it first, so a typo does not cost the
    audio and sampling stages of a long clip before the error."""
    from comfyui_modit.modit_app import cli, graph_runner

    ran = []
    monkeypatch.setattr(graph_runner, "run_graph", lambda *args, **kwargs: ran.append(1))
    monkeypatch.setenv("MODIT_CPU_RENDER_WORKERS", value)
    out = tmp_path / "clip.mp4"
    assert cli.main(["--image", PORTRAIT, "--audio", os.path.join(ROOT, "samples", "speech.wav"),
                     "--out", str(out)]) == 2
    assert not ran and not out.exists() and not os.listdir(tmp_path)
    assert f"MODIT_CPU_RENDER_WORKERS={value!r}" in capsys.readouterr().err
