#!/usr/bin/env bash
# One command, fresh machine: build a virtual environment with CPU torch and the pack's requirements, then
# write output/modit_demo.mp4 from the bundled sample portrait and speech with the embedded default (no ComfyUI).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV="${MODIT_DEMO_VENV:-.venv-demo}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# CPU torch first (with a GPU, install your CUDA torch instead): plain `torch` pulls a multi-GB CUDA build.
# Both installs are quick no-ops once satisfied, so a re-run also picks up changed requirements.
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
"$VENV/bin/python" -m pip install -q -r requirements.txt
"$VENV/bin/python" -m modit_app generate --image samples/portrait.png --audio samples/speech.wav \
  --out output/modit_demo.mp4 --overwrite "$@"
