"""Start a real ComfyUI (--cpu) with this pack on a free loopback port, for the integration tier.

Reads COMFYUI_ROOT (a ComfyUI checkout) and COMFYUI_PYTHON (a Python with ComfyUI's requirements).
"""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACK_FOLDER = "comfyui-modit"


def comfyui_env():
    """(root, python) from the environment, or None with the reason they are unusable."""
    root, python = os.environ.get("COMFYUI_ROOT"), os.environ.get("COMFYUI_PYTHON")
    if not root or not python:
        return None, "set COMFYUI_ROOT (a ComfyUI 0.27 checkout) and COMFYUI_PYTHON (its Python) to run this tier"
    if not os.path.isfile(os.path.join(root, "main.py")):
        return None, f"COMFYUI_ROOT={root} has no main.py"
    return (root, python), ""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    """A ComfyUI process whose custom_nodes holds only this pack, with its own input/output folders."""

    def __init__(self, root, python, workdir, extra_args=()):
        self.root, self.python, self.workdir = root, python, str(workdir)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.workdir, "comfyui.log")
        for name in ("custom_nodes", "input", "output", "temp", "user", os.path.join("models", "wav2lip")):
            os.makedirs(os.path.join(self.workdir, name), exist_ok=True)
        # Tests may put model files here; ComfyUI learns the folder from extra_model_paths.yaml before the pack
        # registers its own default for the same key (COMFYUI.md §3), so this also exercises that idiom.
        self.wav2lip_dir = os.path.join(self.workdir, "models", "wav2lip")
        os.symlink(ROOT, os.path.join(self.workdir, "custom_nodes", PACK_FOLDER))
        self.input_dir = os.path.join(self.workdir, "input")
        self.output_dir = os.path.join(self.workdir, "output")
        yaml = os.path.join(self.workdir, "extra_model_paths.yaml")
        with open(yaml, "w") as f:
            f.write(f"modit_test:\n  custom_nodes: {os.path.join(self.workdir, 'custom_nodes')}\n"
                    f"  wav2lip: {self.wav2lip_dir}\n")
        self.args = [python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
                     "--extra-model-paths-config", yaml, "--disable-auto-launch",
                     "--input-directory", self.input_dir, "--output-directory", self.output_dir,
                     "--temp-directory", os.path.join(self.workdir, "temp"),
                     "--user-directory", os.path.join(self.workdir, "user"),
                     "--database-url", f"sqlite:///{os.path.join(self.workdir, 'user', 'comfyui.db')}",
                     *extra_args]
        self.process = None

    def __enter__(self):
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(self.args, cwd=self.root, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.process.returncode}:\n{self.log()[-4000:]}")
            try:
                self.get("/system_stats")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(1)
        raise RuntimeError(f"ComfyUI did not answer within 300 s:\n{self.log()[-4000:]}")

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()

    def rss_mib(self):
        """The server process's resident memory in MiB (Linux /proc)."""
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS line")

    def alive(self):
        """True if the process runs and answers /system_stats."""
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            self.get("/system_stats")
            return True
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def kill(self):
        """SIGKILL the server, as a crash or an OOM killer would."""
        self.process.kill()
        self.process.wait(30)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=60) as response:
            return json.loads(response.read())

    def post(self, path, payload):
        request = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def add_input(self, path):
        shutil.copy(path, self.input_dir)

    def run_prompt(self, graph, timeout=1200):
        """Queue an API-format graph and wait for its history entry; returns the entry."""
        prompt_id = self.post("/prompt", {"prompt": graph})["prompt_id"]
        deadline = time.time() + timeout
        while time.time() < deadline:
            history = self.get(f"/history/{prompt_id}")
            if prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
                return history[prompt_id]
            time.sleep(1)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout} s")
