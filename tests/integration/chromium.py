"""Headless Chromium driven over the Chrome DevTools Protocol (CDP), for testing web/modit.js in a real page.

No npm or playwright: Chromium is started with --remote-debugging-port and its page target is spoken to over
the pack's own stdlib websocket client (modit_app/batch/websocket.py). Every wait has a deadline.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from comfyui_modit.modit_app.batch.websocket import WebSocket

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell")


def find_chromium():
    """Path of a Chromium binary (CHROMIUM_BINARY first, then PATH), or None."""
    explicit = os.environ.get("CHROMIUM_BINARY")
    if explicit:
        return explicit if os.path.isfile(explicit) else None
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CDPError(RuntimeError):
    """A CDP command failed, or JavaScript evaluated through it threw."""


class Page:
    """One page target: `call(method, **params)` sends a CDP command and returns its result."""

    def __init__(self, websocket_url, timeout=30.0):
        self.socket = WebSocket(websocket_url, timeout=timeout)
        self.timeout = timeout
        self.next_id = 0
        self.console = []  # (type, text) of console messages and uncaught exceptions, for failure messages

    def call(self, method, timeout=None, **params):
        self.next_id += 1
        message_id = self.next_id
        self.socket._send(0x1, json.dumps({"id": message_id, "method": method, "params": params}).encode())
        deadline = time.time() + (timeout or self.timeout)
        while True:
            self.socket.settimeout(max(deadline - time.time(), 0.1))
            try:
                message = json.loads(self.socket.recv())
            except (TimeoutError, socket.timeout) as error:
                raise CDPError(f"{method}: no answer within {timeout or self.timeout} s") from error
            if message.get("id") == message_id:
                if "error" in message:
                    raise CDPError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._note_event(message)
            if time.time() > deadline:
                raise CDPError(f"{method}: no answer within {timeout or self.timeout} s")

    def _note_event(self, message):
        params = message.get("params", {})
        if message.get("method") == "Runtime.consoleAPICalled":
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            self.console.append((params.get("type"), text))
        elif message.get("method") == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.console.append(("exception", details.get("exception", {}).get("description", details.get("text"))))

    def evaluate(self, expression, timeout=None):
        """The JSON value of a JavaScript expression (promises awaited); CDPError if it throws."""
        result = self.call("Runtime.evaluate", timeout=timeout, expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CDPError(f"{expression[:120]!r} threw: "
                           f"{details.get('exception', {}).get('description', details.get('text'))}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout, what):
        """Poll until `expression` is truthy and return its value; TimeoutError naming `what` otherwise."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                value = self.evaluate(expression)
            except CDPError:
                value = None  # e.g. the page is still loading and `window.app` is not there yet
            if value:
                return value
            time.sleep(0.25)
        errors = "\n".join(f"  {kind}: {text}" for kind, text in self.console[-20:])
        raise TimeoutError(f"{what}: not seen within {timeout} s; last console messages:\n{errors}")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", timeout=60, format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def close(self):
        self.socket.close()


class Chromium:
    """A headless Chromium with a throwaway profile; `page()` connects to its first tab."""

    def __init__(self, binary, width=1600, height=1000):
        self.binary, self.width, self.height = binary, width, height
        self.port = _free_port()
        self.profile = tempfile.mkdtemp(prefix="modit-chromium-")
        self.process = None

    def __enter__(self):
        args = [self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--remote-allow-origins=*", f"--window-size={self.width},{self.height}",
                f"--user-data-dir={self.profile}", f"--remote-debugging-port={self.port}", "about:blank"]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.binary} exited with {self.process.returncode}: {self._log_tail()}")
            try:
                self.targets()
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"{self.binary} did not open its DevTools port within 60 s: {self._log_tail()}")

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _log_tail(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def targets(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10) as response:
            return json.loads(response.read())

    def page(self):
        """The first page target, with the Page and Runtime domains enabled."""
        target = next(t for t in self.targets() if t["type"] == "page")
        page = Page(target["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height, deviceScaleFactor=1,
                  mobile=False)
        return page
