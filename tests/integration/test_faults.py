"""Integration tier, faults: cancel in every stage, a server killed mid-batch, inputs that are not what they
claim, and the same job queued twice, all through a real ComfyUI.

Every case ends with the server still answering /system_stats. Clips are short and renders small (256 px
unless the case is about frame size) so the whole file stays within a few minutes on a 2-core CPU.
"""
import copy
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
import wave

import numpy as np
import pytest

from comfyui_modit.modit_app.batch.run import run_batch, summary_table
from comfyui_modit.modit_app.batch.jobs import Job
from comfyui_modit.modit_app.batch.websocket import WebSocket
from comfyui_modit.modit.timing import frames_for_samples

from .comfyui_server import ROOT, ComfyServer, comfyui_env

ENV, WHY = comfyui_env()
pytestmark = [pytest.mark.integration, pytest.mark.skipif(ENV is None, reason=WHY)]

SAMPLES = os.path.join(ROOT, "samples")
FACES = os.path.join(os.path.dirname(ROOT), "shared", "data", "faces")
BASIC, STREAMING = "modit_basic.json", "modit_long_audio_to_file.json"


def _workflow(name, size="256", prefix=None, seed=None, image="portrait.png", audio="speech_2s.wav", steps=None):
    with open(os.path.join(ROOT, "workflows", "api", name)) as f:
        graph = json.load(f)
    for node in graph.values():
        inputs = node["inputs"]
        if steps is not None and node["class_type"] == "MoDiTSampleExpression":
            inputs["steps"] = steps
        if node["class_type"] in ("MoDiTFlowRender", "MoDiTRenderToVideo"):
            inputs["output_size"] = size
        if prefix is not None and "filename_prefix" in inputs:
            inputs["filename_prefix"] = prefix
        if seed is not None and "seed" in inputs:
            inputs["seed"] = seed
        if node["class_type"] == "LoadImage":
            inputs["image"] = image
        if node["class_type"] == "LoadAudio":
            inputs["audio"] = audio
    return graph


def _write_clip(path, seconds, start=0.0):
    with wave.open(os.path.join(SAMPLES, "speech.wav")) as source:
        params = source.getparams()
        source.setpos(int(start * params.framerate))
        frames = source.readframes(int(seconds * params.framerate))
    with wave.open(path, "wb") as clip:
        clip.setparams(params)
        clip.writeframes(frames)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server that executes every node on every run (--cache-none): a rerun really recomputes, so
    'the next job after a cancel' and 'the same job twice' are not answered from the cache."""
    root, python = ENV
    with ComfyServer(root, python, tmp_path_factory.mktemp("faults"), extra_args=["--cache-none"]) as running:
        running.add_input(os.path.join(SAMPLES, "portrait.png"))
        _write_clip(os.path.join(running.input_dir, "speech_2s.wav"), 2.0, start=1.0)
        yield running


def _outputs(server):
    found = []
    for dirpath, _, names in os.walk(server.output_dir):
        found += [os.path.join(dirpath, n) for n in names]
    return found


def _videos(entry, server):
    return [os.path.join(server.output_dir, item.get("subfolder", ""), item["filename"])
            for node in entry.get("outputs", {}).values() for item in node.get("images", []) + node.get("video", [])
            if item.get("filename", "").endswith(".mp4")]


def _error(entry):
    messages = [m[1] for m in entry["status"].get("messages", []) if m[0] == "execution_error"]
    return messages[0] if messages else None


def _decode(path):
    """(video frames as one uint8 array, audio samples as one float array) of an mp4."""
    import av

    with av.open(path) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    with av.open(path) as container:
        audio = np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
    return frames, audio


def _interrupt(server):
    request = urllib.request.Request(server.url + "/interrupt", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).read()


def _run_and_interrupt(server, graph, node_id, after_progress=1, timeout=600):
    """Queue graph; when node_id has reported `after_progress` progress events, POST /interrupt.

    Returns (seconds from the interrupt to ComfyUI's execution_interrupted event, seconds between the node's
    progress events (its chunk time), the history entry).
    """
    client_id = f"faults-{time.time()}"
    ws = WebSocket(f"{server.url}/ws?clientId={client_id}", timeout=60)
    try:
        prompt_id = server.post("/prompt", {"prompt": graph, "client_id": client_id})["prompt_id"]
        seen, stamps, interrupted_at, stopped_at = 0, [], None, None
        deadline = time.time() + timeout
        while time.time() < deadline and stopped_at is None:
            event = ws.recv_json()
            kind, data = event.get("type"), event.get("data", {})
            if data.get("prompt_id") not in (None, prompt_id):
                continue
            if kind == "progress" and str(data.get("node")) == node_id:
                stamps.append(time.time())
                seen += 1
                if seen == after_progress and interrupted_at is None:
                    assert data["value"] < data["max"], f"node {node_id} finished before the interrupt: {data}"
                    _interrupt(server)
                    interrupted_at = time.time()
            elif kind in ("execution_interrupted", "execution_error", "execution_success"):
                stopped_at = time.time()
                assert kind == "execution_interrupted", f"expected an interrupt, got {kind}: {data}"
            elif kind == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
                stopped_at = time.time()
        assert interrupted_at is not None, f"node {node_id} never reported progress"
        assert stopped_at is not None, "the interrupted prompt did not end"
    finally:
        ws.close()
    chunk = float(np.median(np.diff(stamps))) if len(stamps) > 1 else 0.0
    return stopped_at - interrupted_at, chunk, _history(server, prompt_id)


def _history(server, prompt_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        history = server.get(f"/history/{prompt_id}")
        if prompt_id in history:
            return history[prompt_id]
        time.sleep(0.2)
    raise TimeoutError(prompt_id)


# (stage, workflow, the class of the node that is running when the interrupt lands)
STAGES = [("sampling", BASIC, "MoDiTSampleExpression"), ("rendering", BASIC, "MoDiTFlowRender"),
          ("encoding", STREAMING, "MoDiTRenderToVideo")]
REFERENCES = {}  # workflow -> mp4 of an uninterrupted run with seed 7 (sampling and rendering share one)
# ComfyUI's ProgressBar sends an update at most every 0.1 s (besides the first and the last: comfy/utils.py
# PROGRESS_THROTTLE_MIN_INTERVAL), and a 2 s clip's 10 sampling chunks take ~0.1 s on an idle CPU: the websocket then
# shows only 1/10 and 10/10. More steps make sampling last long enough to be interrupted in the middle. (Our
# Progress still checks for Cancel on every chunk; only the websocket updates are thinned.)
INTERRUPT_STEPS = 100


def _reference(server, workflow):
    if workflow not in REFERENCES:
        entry = server.run_prompt(_workflow(workflow, prefix=f"ref_{workflow[:-5]}", seed=7, steps=INTERRUPT_STEPS))
        assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:2000]
        (REFERENCES[workflow],) = _videos(entry, server)
    return REFERENCES[workflow]


@pytest.mark.parametrize("stage,workflow,node_class", STAGES, ids=[s[0] for s in STAGES])
def test_interrupt_ends_within_a_chunk_and_the_next_job_is_exact(server, stage, workflow, node_class):
    reference_video = _reference(server, workflow)
    graph = _workflow(workflow, prefix=f"cut_{stage}", seed=7, steps=INTERRUPT_STEPS)
    (node_id,) = [k for k, node in graph.items() if node["class_type"] == node_class]
    latency, chunk, entry = _run_and_interrupt(server, graph, node_id, after_progress=2)
    print(f"\ninterrupt during {stage}: stopped {latency:.2f} s after POST /interrupt (a chunk takes {chunk:.2f} s)")
    assert entry["status"]["status_str"] == "error"
    assert any(m[0] == "execution_interrupted" for m in entry["status"]["messages"])
    # One chunk, plus slack for a websocket round trip on a loaded 2-core machine.
    assert latency <= chunk + 2.0, f"{stage}: {latency:.2f} s to stop, a chunk takes {chunk:.2f} s"
    leftovers = [p for p in _outputs(server) if os.path.basename(p).startswith(f"cut_{stage}")]
    assert leftovers == [], f"the cancelled {stage} run left {leftovers}"
    assert not [p for p in _outputs(server) if os.path.getsize(p) == 0], "a zero-byte file is in output/"
    assert server.alive()

    rerun = server.run_prompt(_workflow(workflow, prefix=f"next_{stage}", seed=7, steps=INTERRUPT_STEPS))
    assert rerun["status"]["status_str"] == "success", json.dumps(rerun["status"])[:2000]
    (rerun_video,) = _videos(rerun, server)
    with open(reference_video, "rb") as a, open(rerun_video, "rb") as b:
        same_bytes = a.read() == b.read()
    if workflow == STREAMING:
        assert same_bytes, "the streaming node's mp4 after a cancel differs from the uninterrupted run's"
    else:
        # Core SaveVideo stores the prompt (with its filename_prefix) in the mp4's metadata, so the files differ
        # by those bytes: compare the decoded frames and audio samples instead.
        (frames_a, audio_a), (frames_b, audio_b) = _decode(reference_video), _decode(rerun_video)
        assert frames_a.shape == frames_b.shape and np.array_equal(frames_a, frames_b), "frames differ"
        assert np.array_equal(audio_a, audio_b), "audio differs"


def _write_image(path, array):
    from PIL import Image

    Image.fromarray(array).save(path)


def _portrait(size=None):
    from PIL import Image

    image = Image.open(os.path.join(SAMPLES, "portrait.png")).convert("RGB")
    return np.asarray(image if size is None else image.resize(size, Image.LANCZOS))


def _twelve_faces():
    """A 4 x 3 grid of faces (gallery faces where ../shared/data/faces exists, else the sample portrait)."""
    from PIL import Image

    names = sorted(n for n in os.listdir(FACES) if n.endswith((".jpg", ".png", ".jpeg")))[:12] if os.path.isdir(FACES) else []
    tiles = [Image.open(os.path.join(FACES, n)).convert("RGB") for n in names]
    tiles += [Image.open(os.path.join(SAMPLES, "portrait.png")).convert("RGB")] * (12 - len(tiles))
    grid = Image.new("RGB", (4 * 200, 3 * 200))
    for i, tile in enumerate(tiles):
        side = min(tile.size)
        square = tile.crop(((tile.width - side) // 2, (tile.height - side) // 2,
                            (tile.width + side) // 2, (tile.height + side) // 2)).resize((200, 200), Image.LANCZOS)
        grid.paste(square, ((i % 4) * 200, (i // 4) * 200))
    return np.asarray(grid)


def _wav(path, samples, rate):
    """A 16-bit wav from float samples [S, C] in -1..1."""
    data = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(path, "wb") as f:
        f.setnchannels(data.shape[1])
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(data.tobytes())


def _speech(seconds=3.0):
    with wave.open(os.path.join(SAMPLES, "speech.wav")) as f:
        rate = f.getframerate()
        data = np.frombuffer(f.readframes(int(seconds * rate)), "<i2").astype(np.float64) / 32768
    return data, rate


def make_bad_input(kind, folder):
    """Write the input for `kind` into folder; returns (image name, audio name)."""
    image, audio = "portrait.png", "speech_2s.wav"
    if kind == "truncated_wav":
        with open(os.path.join(SAMPLES, "speech.wav"), "rb") as f:
            content = f.read()
        audio = "truncated.wav"
        with open(os.path.join(folder, audio), "wb") as f:
            f.write(content[: len(content) // 3])  # the header still claims 12 s
    elif kind == "text_as_png":
        image = "not_an_image.png"
        with open(os.path.join(folder, image), "w") as f:
            f.write("this is a text file, not a PNG\n" * 20)
    elif kind == "tiny_image":
        image = "two_by_two.png"
        _write_image(os.path.join(folder, image), np.full((2, 2, 3), 128, np.uint8))
    elif kind == "eight_channel_96k":
        speech, rate = _speech(3.0)
        t_new = np.arange(int(len(speech) * 96000 / rate)) / 96000
        upsampled = np.interp(t_new, np.arange(len(speech)) / rate, speech)
        channels = np.stack([upsampled * (0.3 + 0.1 * c) for c in range(8)], axis=1)
        audio = "eight_channels_96k.wav"
        _wav(os.path.join(folder, audio), channels, 96000)
    elif kind == "twelve_faces":
        image = "twelve_faces.png"
        _write_image(os.path.join(folder, image), _twelve_faces())
    elif kind.startswith("odd_size"):
        image = "odd_640x959.png"
        _write_image(os.path.join(folder, image), _portrait((640, 959)))
    return image, audio


# (case, workflow, output size, what a clear error must mention (any of), or None when a result is expected)
BAD_INPUTS = [
    pytest.param("truncated_wav", BASIC, "256", None, id="truncated_wav"),
    pytest.param("text_as_png", BASIC, "256", ("image", "identify"), id="text_as_png"),
    pytest.param("tiny_image", BASIC, "256", ("face", "2x2", "small"), id="tiny_image"),
    pytest.param("eight_channel_96k", BASIC, "256", None, id="eight_channel_96k"),
    pytest.param("twelve_faces", BASIC, "256", None, id="twelve_faces"),
    pytest.param("odd_size_basic", BASIC, "source", None, id="odd_size_basic"),
    pytest.param("odd_size_streaming", STREAMING, "source", None, id="odd_size_streaming"),
]


@pytest.mark.parametrize("kind,workflow,size,error_words", BAD_INPUTS)
def test_input_that_is_not_what_it_claims(server, kind, workflow, size, error_words):
    image, audio = make_bad_input(kind, server.input_dir)
    graph = _workflow(workflow, size=size, prefix=f"bad_{kind}", image=image, audio=audio)
    try:
        entry = server.run_prompt(graph, timeout=600)
        status = entry["status"]["status_str"]
    except urllib.error.HTTPError as refused:  # refused at validation: also a clear, early answer
        entry, status = {"status": {"messages": []}}, "refused"
        message = refused.read().decode(errors="replace")
    assert server.alive(), f"{kind}: the server stopped answering"
    if status == "refused":
        assert error_words and any(w in message.lower() for w in error_words), f"{kind}: refused with {message}"
        return
    error = _error(entry)
    if error_words is None:
        assert status == "success", f"{kind}: {error and error.get('exception_message')}"
        (video,) = _videos(entry, server)
        frames, samples = _decode(video)
        assert frames.shape[0] > 0 and frames.shape[1] % 2 == 0 and frames.shape[2] % 2 == 0
        assert len(samples) > 0
        print(f"\n{kind}: result {frames.shape[2]}x{frames.shape[1]}, {frames.shape[0]} frames")
    else:
        assert status == "error", f"{kind}: expected a clear error, got {status}"
        text = f"{error['exception_type']}: {error['exception_message']}"
        print(f"\n{kind}: node {error['node_type']}: {text.strip()}")
        assert any(w in text.lower() for w in error_words), f"{kind}: the error does not name the problem: {text}"
        assert "Traceback" not in error["exception_message"]
    assert not [p for p in _outputs(server) if os.path.getsize(p) == 0]


@pytest.mark.parametrize("workflow", [BASIC, STREAMING])
def test_the_same_job_queued_twice_writes_two_files(server, workflow):
    graph = _workflow(workflow, prefix=f"twice_{workflow[:-5]}", seed=3)
    first_id = server.post("/prompt", {"prompt": graph})["prompt_id"]
    second_id = server.post("/prompt", {"prompt": copy.deepcopy(graph)})["prompt_id"]
    first = _history(server, first_id, timeout=600)
    while first["status"].get("completed") is None:
        time.sleep(0.5)
        first = _history(server, first_id)
    (first_video,) = _videos(first, server)
    with open(first_video, "rb") as f:
        first_digest = hashlib.sha256(f.read()).hexdigest()
    second = _history(server, second_id, timeout=600)
    assert first["status"]["status_str"] == second["status"]["status_str"] == "success"
    (second_video,) = _videos(second, server)
    assert first_video != second_video, "both runs reported the same file"
    with open(first_video, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == first_digest, "the second run changed the first's file"
    a, b = _decode(first_video), _decode(second_video)
    assert np.array_equal(a[0], b[0]), "the same job (same seed) gave different frames"


def test_killed_server_hands_its_jobs_to_the_other(server, tmp_path):
    """Two servers; the second is SIGKILLed while it runs its first job. The batch client moves that job (and
    the rest) to the first server: every job is done, nothing is lost, and the summary says what happened."""
    root, python = ENV
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    jobs = []
    for i in range(3):
        audio = pairs / f"clip{i}.wav"
        _write_clip(str(audio), 2.0 + 0.5 * i, start=0.5 * i)
        jobs.append(Job(f"clip{i}", os.path.join(SAMPLES, "portrait.png"), str(audio), seed=i))
    template = _workflow(BASIC)
    with ComfyServer(root, python, tmp_path / "doomed") as doomed:
        def kill_when_busy():
            deadline = time.time() + 600
            while time.time() < deadline:
                try:
                    if doomed.get("/queue")["queue_running"]:
                        time.sleep(1.0)  # mid-job
                        doomed.kill()
                        return
                except OSError:
                    return
                time.sleep(0.2)

        killer = threading.Thread(target=kill_when_busy, daemon=True)
        killer.start()
        batch = run_batch(template, jobs, [doomed.url, server.url], str(tmp_path / "out"), retries=0)
        killer.join(5)
        assert doomed.process.poll() is not None, "the doomed server was never killed"
    table = summary_table(list(batch.results.values()), batch.events)
    print("\n" + table)
    assert all(r.status == "done" for r in batch.results.values()), table
    assert f"{doomed.url} stopped answering" in table and "moved to another server" in table
    moved = [r for r in batch.results.values() if r.moved_from]
    assert moved and all(r.server == server.url for r in moved)
    files = sorted(os.listdir(tmp_path / "out"))
    assert len(files) == 3 and all(os.path.getsize(tmp_path / "out" / f) > 0 for f in files)
    assert server.alive()
