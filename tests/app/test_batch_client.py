"""The batch client queues jobs, retries failures and never overwrites files, against a fake ComfyUI on loopback."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from comfyui_modit.modit_app.batch.run import main
from comfyui_modit.modit_app.batch.jobs import graph_for_job, jobs_from_csv, jobs_from_folder, write_new_file

TEMPLATE = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
    "2": {"class_type": "LoadAudio", "inputs": {"audio": "x.wav"}},
    "3": {"class_type": "MoDiTSampleExpression", "inputs": {"seed": 1, "audio_features": ["2", 0]}},
    "4": {"class_type": "SaveVideo", "inputs": {"filename_prefix": "video/ComfyUI", "video": ["3", 0]}},
}


class FakeComfy(BaseHTTPRequestHandler):
    """Enough of ComfyUI's API: /upload/image, /prompt, /history/<id>, /view. The first prompt fails."""

    state = {}

    def log_message(self, *args):
        pass

    def _json(self, payload, code=200):
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/upload/image":
            self.state["uploads"] += 1
            return self._json({"name": f"upload_{self.state['uploads']}.bin", "subfolder": "modit_batch", "type": "input"})
        if self.path == "/prompt":
            payload = json.loads(body)
            prompt_id = payload["prompt_id"]
            self.state["prompts"].append(payload["prompt"])
            failed = len(self.state["prompts"]) == 1
            prefix = payload["prompt"]["4"]["inputs"]["filename_prefix"]
            self.state["history"][prompt_id] = {
                "status": {"status_str": "error" if failed else "success", "completed": not failed,
                           "messages": [["execution_error", {"exception_message": "boom"}]] if failed else []},
                "outputs": {} if failed else {"4": {"images": [{"filename": "clip.mp4", "subfolder": prefix, "type": "output"}],
                                                    "animated": [True]}}}
            return self._json({"prompt_id": prompt_id, "number": 1, "node_errors": {}})
        self._json({"error": "not found"}, 404)

    def do_GET(self):
        if self.path.startswith("/history/"):
            prompt_id = self.path.split("/")[-1]
            entry = self.state["history"].get(prompt_id)
            return self._json({prompt_id: entry} if entry else {})
        if self.path.startswith("/view"):
            body = b"MP4DATA"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        self.send_response(404)
        self.end_headers()


@pytest.fixture
def server():
    FakeComfy.state = {"uploads": 0, "prompts": [], "history": {}}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeComfy)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_folder_pairs_and_csv(tmp_path):
    for name in ("alice.png", "alice.wav", "bob.jpg", "bob.mp3", "carol.png"):
        (tmp_path / name).write_bytes(b"x")
    assert [j.name for j in jobs_from_folder(str(tmp_path))] == ["alice", "bob"]
    csv_path = tmp_path / "jobs.csv"
    csv_path.write_text("image,audio,seed\nalice.png,bob.mp3,7\n")
    (job,) = jobs_from_csv(str(csv_path))
    assert job.seed == 7 and job.name == "alice_bob"
    csv_path.write_text("image,audio\nmissing.png,bob.mp3\n")
    with pytest.raises(ValueError, match="line 2: no such file"):
        jobs_from_csv(str(csv_path))


def test_graph_for_job_sets_inputs_prefix_and_seed():
    graph = graph_for_job(TEMPLATE, "in/a.png", "in/a.wav", "modit_batch/run_a", 42)
    assert graph["1"]["inputs"]["image"] == "in/a.png" and graph["2"]["inputs"]["audio"] == "in/a.wav"
    assert graph["3"]["inputs"]["seed"] == 42 and graph["4"]["inputs"]["filename_prefix"].startswith("modit_batch/run_a")
    assert TEMPLATE["1"]["inputs"]["image"] == "x.png", "the template is not modified"
    with pytest.raises(ValueError, match="LoadAudio"):
        graph_for_job({"1": TEMPLATE["1"]}, "a", "b", "p", None)


def test_write_new_file_never_overwrites(tmp_path):
    first = write_new_file(str(tmp_path), "clip.mp4", b"one")
    second = write_new_file(str(tmp_path), "clip.mp4", b"two")
    assert first != second and open(first, "rb").read() == b"one" and open(second, "rb").read() == b"two"


def test_batch_run_retries_and_downloads(server, tmp_path, capsys):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for name in ("alice.png", "alice.wav", "bob.png", "bob.wav"):
        (pairs / name).write_bytes(b"x")
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(TEMPLATE))
    out = tmp_path / "out"
    out.mkdir()
    (out / "alice_clip.mp4").write_bytes(b"KEEP ME")
    code = main([str(workflow), str(pairs), "--server", server, "--out", str(out), "--retries", "1"])
    table = capsys.readouterr().out
    assert code == 0, table
    assert "2 done, 0 failed" in table
    assert (out / "alice_clip.mp4").read_bytes() == b"KEEP ME", "an existing output was overwritten"
    assert sorted(p.name for p in out.iterdir()) == ["alice_clip.mp4", "alice_clip_1.mp4", "bob_clip.mp4"]
    prompts = FakeComfy.state["prompts"]
    assert len(prompts) == 3, "the failed first prompt is retried once"
    prefixes = {p["4"]["inputs"]["filename_prefix"] for p in prompts[1:]}
    assert len(prefixes) == 2, "each job saves under its own prefix"


def test_batch_reports_failure(server, tmp_path, capsys):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for name in ("alice.png", "alice.wav"):
        (pairs / name).write_bytes(b"x")
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(TEMPLATE))
    code = main([str(workflow), str(pairs), "--server", server, "--out", str(tmp_path / "o"), "--retries", "0"])
    assert code == 1 and "boom" in capsys.readouterr().out


def _fake_server(handler_state, hang=False):
    """A FakeComfy on its own port with its own state; hang=True never finishes a prompt (it 'dies' instead)."""
    handler = type("Fake", (FakeComfy,), {"state": handler_state})
    if hang:
        def do_GET(self):
            if self.path.startswith("/history/"):
                return self._json({})
            return FakeComfy.do_GET(self)
        handler.do_GET = do_GET
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def test_batch_moves_jobs_off_a_server_that_dies(tmp_path, capsys):
    """Server A takes a job, never finishes it and goes down; every job still ends up done on server B, without
    spending a retry, and the summary says what happened."""
    good_state = {"uploads": 0, "prompts": [None], "history": {}}  # [None]: B's first prompt must not fail
    dying_state = {"uploads": 0, "prompts": [None], "history": {}}
    good, good_url = _fake_server(good_state)
    dying, dying_url = _fake_server(dying_state, hang=True)

    def kill_when_busy():
        while len(dying_state["prompts"]) < 2:
            threading.Event().wait(0.05)
        dying.shutdown()
        dying.server_close()

    threading.Thread(target=kill_when_busy, daemon=True).start()
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for stem in ("a", "b", "c", "d"):
        (pairs / f"{stem}.png").write_bytes(b"x")
        (pairs / f"{stem}.wav").write_bytes(b"x")
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(TEMPLATE))
    out = tmp_path / "out"
    try:
        code = main([str(workflow), str(pairs), "--server", dying_url, "--server", good_url, "--out", str(out),
                     "--retries", "0"])
    finally:
        good.shutdown()
    table = capsys.readouterr().out
    assert code == 0, table
    assert "4 done, 0 failed, 1 moved to another server" in table
    assert f"server lost: " in table and f"{dying_url} stopped answering" in table
    assert len(list(out.iterdir())) == 4
