"""The device under test: MODIT_TEST_DEVICE (default cpu) and MODIT_TEST_DTYPE (fp32, fp16 or bf16; default fp32).

    MODIT_TEST_DEVICE=cuda MODIT_TEST_DTYPE=bf16 python -m pytest -q tests/device     # bench/gpu_check.sh does this

Each test runs one stage on that device and dtype and compares it with the same stage on the CPU in fp32.
A device that was asked for but is missing fails the run: a GPU check must never pass by skipping.
"""
import os

import pytest
import torch

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@pytest.fixture(scope="session")
def test_device() -> torch.device:
    device = torch.device(os.environ.get("MODIT_TEST_DEVICE", "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        pytest.fail(f"MODIT_TEST_DEVICE={device}: torch {torch.__version__} sees no CUDA device; install a CUDA "
                    f"build of torch or unset MODIT_TEST_DEVICE")
    if device.type == "mps" and not torch.backends.mps.is_available():
        pytest.fail(f"MODIT_TEST_DEVICE={device}: MPS is not available")
    return device


@pytest.fixture(scope="session")
def test_dtype_name() -> str:
    name = os.environ.get("MODIT_TEST_DTYPE", "fp32")
    if name not in DTYPES:
        pytest.fail(f"MODIT_TEST_DTYPE={name!r}: expected one of {sorted(DTYPES)}")
    return name


@pytest.fixture(scope="session")
def test_dtype(test_dtype_name) -> torch.dtype:
    return DTYPES[test_dtype_name]


@pytest.fixture
def on_device(monkeypatch, test_device):
    """The pack's compute device (comfy_adapter.compute_device) set to the device under test."""
    monkeypatch.setenv("MODIT_DEVICE", str(test_device))
    return test_device
