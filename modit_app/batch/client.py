"""One ComfyUI server seen through its HTTP API: upload, queue, follow over the websocket, fetch outputs."""
import http.client
import json
import logging
import mimetypes
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from .websocket import WebSocket, WebSocketClosed

log = logging.getLogger(__name__)


class PromptFailed(RuntimeError):
    """ComfyUI refused the prompt or its execution failed; the message carries ComfyUI's own words."""


class ServerUnreachable(ConnectionError):
    """The server did not answer at all (refused, reset, timed out): it may be down, not the job at fault."""


class ComfyClient:
    """Talks to one server (e.g. http://127.0.0.1:8188) as one websocket client id."""

    def __init__(self, url: str, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.client_id = str(uuid.uuid4())

    # -------------------------------------------------------------------------------------------- http
    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise PromptFailed(f"{self.url}{path}: HTTP {error.code}: {_summarise_error(detail)}") from error
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:  # refused, reset, timed out, cut off
            reason = getattr(error, "reason", error)
            raise ServerUnreachable(f"{self.url}{path}: no answer ({reason})") from error

    def alive(self, tries: int = 3, wait: float = 2.0) -> bool:
        """True if the server answers /system_stats within `tries` attempts `wait` seconds apart."""
        for attempt in range(tries):
            try:
                self.get_json("/system_stats")
                return True
            except (ServerUnreachable, PromptFailed, ValueError):
                if attempt + 1 < tries:
                    time.sleep(wait)
        return False

    def get_json(self, path: str):
        return json.loads(self._request("GET", path))

    def post_json(self, path: str, payload: dict):
        body = json.dumps(payload).encode()
        return json.loads(self._request("POST", path, body, {"Content-Type": "application/json"}))

    def upload(self, path: str, subfolder: str = "modit_batch") -> str:
        """Upload a local file to the server's input folder (never overwriting); returns the name to use."""
        boundary = uuid.uuid4().hex
        filename = os.path.basename(path)
        with open(path, "rb") as f:
            content = f.read()
        kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        parts = [
            (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
             f"Content-Type: {kind}\r\n\r\n").encode() + content + b"\r\n",
            f'--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\ninput\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="subfolder"\r\n\r\n{subfolder}\r\n'.encode(),
            f"--{boundary}--\r\n".encode(),
        ]
        answer = json.loads(self._request("POST", "/upload/image", b"".join(parts),
                                          {"Content-Type": f"multipart/form-data; boundary={boundary}"}))
        return f"{answer['subfolder']}/{answer['name']}" if answer.get("subfolder") else answer["name"]

    def download(self, filename: str, subfolder: str, folder_type: str) -> bytes:
        query = urllib.parse.urlencode({"filename": filename, "subfolder": subfolder, "type": folder_type})
        return self._request("GET", f"/view?{query}")

    # ------------------------------------------------------------------------------------------ prompts
    def run(self, graph: dict, on_progress=None, timeout: float = 3600.0) -> dict:
        """Queue an API-format graph, follow it to the end, return its /history entry.

        on_progress(node_id, value, max) is called for each websocket progress event of this prompt.
        Raises PromptFailed with ComfyUI's error message on validation or execution errors.
        """
        ws = None
        try:
            ws = WebSocket(f"{self.url}/ws?clientId={self.client_id}", timeout=self.timeout)
        except OSError as error:
            log.warning("%s: no websocket (%s); following the prompt by polling /history", self.url, error)
        try:
            prompt_id = str(uuid.uuid4())
            answer = self.post_json("/prompt", {"prompt": graph, "client_id": self.client_id, "prompt_id": prompt_id})
            if answer.get("node_errors"):
                raise PromptFailed(f"{self.url}: prompt refused: {_summarise_error(json.dumps(answer['node_errors']))}")
            deadline = time.time() + timeout
            if ws is not None:
                self._follow(ws, prompt_id, on_progress, deadline)
            return self._wait_history(prompt_id, deadline)
        finally:
            if ws is not None:
                ws.close()

    def _follow(self, ws: WebSocket, prompt_id: str, on_progress, deadline: float) -> None:
        ws.settimeout(5.0)
        while time.time() < deadline:
            try:
                event = ws.recv_json()
            except TimeoutError:
                if self._finished(prompt_id):
                    return
                continue
            except (WebSocketClosed, OSError):
                return  # the history poll below still finds the result
            kind, data = event.get("type"), event.get("data", {})
            if data.get("prompt_id") not in (None, prompt_id):
                continue
            if kind == "progress" and on_progress:
                on_progress(data.get("node"), data.get("value"), data.get("max"))
            elif kind == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
                return
            elif kind == "execution_error":
                raise PromptFailed(f"{self.url}: node {data.get('node_id')} ({data.get('node_type')}) failed: "
                                   f"{data.get('exception_type')}: {data.get('exception_message', '').strip()}")
            elif kind == "execution_interrupted":
                raise PromptFailed(f"{self.url}: prompt {prompt_id} was interrupted")

    def _finished(self, prompt_id: str) -> bool:
        return prompt_id in self.get_json(f"/history/{prompt_id}")

    def _wait_history(self, prompt_id: str, deadline: float) -> dict:
        while time.time() < deadline:
            history = self.get_json(f"/history/{prompt_id}")
            entry = history.get(prompt_id)
            if entry is not None:
                status = entry.get("status", {})
                if status.get("status_str") == "error":
                    messages = [m[1] for m in status.get("messages", []) if m[0] == "execution_error"]
                    detail = messages[0] if messages else {}
                    raise PromptFailed(f"{self.url}: execution failed: {detail.get('exception_message', status)}")
                return entry
            time.sleep(0.5)
        raise PromptFailed(f"{self.url}: prompt {prompt_id} did not finish in time")


def output_files(history_entry: dict) -> list[dict]:
    """Every saved file a finished prompt reports: [{"filename", "subfolder", "type"}, ...].

    SaveVideo reports its mp4 under the "images" key (with animated: [true]), so every list is searched.
    """
    files = []
    for node_output in history_entry.get("outputs", {}).values():
        for value in node_output.values():
            if isinstance(value, list):
                files.extend(v for v in value if isinstance(v, dict) and "filename" in v and v.get("type") == "output")
    return files


def _summarise_error(detail: str) -> str:
    try:
        data = json.loads(detail)
    except ValueError:
        return detail[:500]
    if isinstance(data, dict) and "error" in data:
        error = data["error"]
        message = error.get("message", "") if isinstance(error, dict) else str(error)
        nodes = data.get("node_errors", {})
        parts = [f"{nid} ({n.get('class_type')}): " + "; ".join(e.get("details") or e.get("message", "") for e in n.get("errors", []))
                 for nid, n in nodes.items()]
        return message + (" | " + " | ".join(parts) if parts else "")
    return detail[:500]
