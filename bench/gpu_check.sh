#!/usr/bin/env bash
# The GPU path in one run: install, device tests in fp32 / fp16 / bf16, then end-to-end speed per stage.
#
#   bash bench/gpu_check.sh                         # on a CUDA machine (the default device is cuda)
#   MODIT_TEST_DEVICE=cpu bash bench/gpu_check.sh   # the same steps on the CPU (proves the script, no GPU figures)
#
# 1. Python: $PYTHON if set; else python3 if its torch already sees the device; else a virtualenv at
#    $GPU_CHECK_VENV (default .venv-gpu, git-ignored) with torch from PyPI (its Linux wheels are CUDA builds;
#    TORCH_INDEX_URL picks another index, e.g. https://download.pytorch.org/whl/cu128). Then requirements.txt
#    and requirements-test.txt (skipped with GPU_CHECK_NO_INSTALL=1, for a machine without network).
# 2. tests/device (mel features, DiT sampling, face stack, renderer checked against CPU fp32) once per dtype
#    in GPU_CHECK_DTYPES (default "fp32 fp16 bf16"), with MODIT_TEST_DEVICE / MODIT_TEST_DTYPE.
# 3. The stage suites (audio, dit, face, render) with MODIT_DEVICE set, so every model the pack loads lands on
#    the device: reported, not fatal (some tests compare against CPU-only references). GPU_CHECK_SUITES=0 skips.
# 4. bench/bench_cold_start.py --device: each stage's first and second call in a fresh process (where a fresh run's
#    extra seconds go: CUDA context, cuDNN compiling kernels, ...).
# 5. bench/bench_end_to_end.py --device: RTF (wall seconds per second of video, start-up and model loading
#    included) and the split per stage, for the basic workflow (frames as IMAGE -> SaveVideo) and the streaming
#    one (MoDiT Render To Video), at GPU_CHECK_SIZES (default "512 1024") px, GPU_CHECK_SECONDS (default "10 60")
#    s of speech, GPU_CHECK_RUNS (default 2) runs each (medians), with the second run in the same process timed
#    too (--warm: a running server's cost per clip). GPU_CHECK_WORKFLOWS picks (default "basic streaming").
#    Target on one H100/H200: <= 0.1 at 512 px.
#
# Exit status: non-zero if an install or a tests/device run fails or a bench run errors.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEVICE="${MODIT_TEST_DEVICE:-cuda}"
DTYPES="${GPU_CHECK_DTYPES:-fp32 fp16 bf16}"
SIZES="${GPU_CHECK_SIZES:-512 1024}"
AUDIO_SECONDS="${GPU_CHECK_SECONDS:-10 60}"
RUNS="${GPU_CHECK_RUNS:-2}"
WORKFLOWS="${GPU_CHECK_WORKFLOWS:-basic streaming}"
VENV="${GPU_CHECK_VENV:-.venv-gpu}"

say() { printf '\n== %s\n' "$*"; }

sees_device() {  # does this python's torch see $DEVICE?
  "$1" - "$DEVICE" <<'EOF' 2>/dev/null
import sys, torch
device = torch.device(sys.argv[1])
ok = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}.get(device.type, False)
sys.exit(0 if ok else 1)
EOF
}

say "python"
if [[ -n "${PYTHON:-}" ]]; then
  PY="$PYTHON"
elif command -v python3 >/dev/null && sees_device python3; then
  PY="$(command -v python3)"
else
  if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
  fi
  PY="$VENV/bin/python"
  if ! sees_device "$PY"; then
    [[ "${GPU_CHECK_NO_INSTALL:-0}" == 1 ]] && { echo "$PY: torch does not see $DEVICE and installs are off"; exit 1; }
    "$PY" -m pip install -q torch ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  fi
fi
if [[ "${GPU_CHECK_NO_INSTALL:-0}" != 1 ]]; then
  "$PY" -m pip install -q -r requirements.txt -r requirements-test.txt
fi
"$PY" - "$DEVICE" <<'EOF'
import platform, sys, torch
device = torch.device(sys.argv[1])
print(f"python {platform.python_version()} ({sys.executable}), torch {torch.__version__}, device {device}")
if device.type == "cuda":
    if not torch.cuda.is_available():
        sys.exit(f"torch {torch.__version__} sees no CUDA device (built for CUDA {torch.version.cuda}); check the "
                 f"driver (nvidia-smi) or set TORCH_INDEX_URL to a wheel index matching it")
    props = torch.cuda.get_device_properties(device)
    print(f"{props.name}, {props.total_memory / 2**30:.0f} GiB, compute {props.major}.{props.minor}, CUDA "
          f"{torch.version.cuda}, bf16 {torch.cuda.is_bf16_supported()}")
EOF

failed=0
say "device tests on $DEVICE (tests/device)"
for dtype in $DTYPES; do
  if MODIT_TEST_DEVICE="$DEVICE" MODIT_TEST_DTYPE="$dtype" "$PY" -m pytest -q -p no:cacheprovider tests/device \
      2>&1 | tail -n 15 | sed "s/^/[$dtype] /"; [[ ${PIPESTATUS[0]} -eq 0 ]]; then
    echo "[$dtype] PASSED"
  else
    echo "[$dtype] FAILED"
    failed=1
  fi
done

if [[ "${GPU_CHECK_SUITES:-1}" == 1 ]]; then
  say "stage suites with MODIT_DEVICE=$DEVICE (reported, not fatal)"
  MODIT_DEVICE="$DEVICE" "$PY" -m pytest -q -p no:cacheprovider tests/audio tests/dit tests/face tests/render 2>&1 \
    | tail -n 8 || true
fi

say "cold start on $DEVICE: each stage's first and second call in a fresh process (bench_cold_start.py)"
if ! "$PY" bench/bench_cold_start.py --device "$DEVICE"; then
  echo "cold-start bench FAILED"
  failed=1
fi

say "end to end on $DEVICE: RTF = wall s per s of video; split = s per s of video per stage"
for workflow in $WORKFLOWS; do
  if ! "$PY" bench/bench_end_to_end.py --device "$DEVICE" --workflow "$workflow" --seconds $AUDIO_SECONDS \
      --sizes $SIZES --runs "$RUNS" --warm; then
    echo "bench ($workflow) FAILED"
    failed=1
  fi
done

say "done: $([[ $failed == 0 ]] && echo 'all device tests and benches ran' || echo 'SOMETHING FAILED (see above)')"
exit "$failed"
