"""Checkpoint I/O keeps metadata, reads .pth safely, and names the file in every error."""
import pickle

import pytest
import torch

from comfyui_modit.modit.checkpoints import check_state_dict, load_checkpoint, save_checkpoint, strip_prefix


def test_safetensors_round_trip_with_metadata(tmp_path):
    path = str(tmp_path / "m.safetensors")
    sd = {"a.weight": torch.randn(3, 4), "b": torch.arange(5)}
    save_checkpoint(path, sd, {"config": {"hidden": 32}, "fps": 25, "space": "embedded-v1"})
    loaded, meta = load_checkpoint(path)
    assert torch.equal(loaded["a.weight"], sd["a.weight"]) and torch.equal(loaded["b"], sd["b"])
    assert meta == {"config": {"hidden": 32}, "fps": 25, "space": "embedded-v1"}
    assert not (tmp_path / "m.safetensors.partial").exists()


def test_pth_unwraps_state_dict_and_prefix(tmp_path):
    path = str(tmp_path / "w.pth")
    torch.save({"state_dict": {"module.x": torch.ones(2)}, "epoch": 3}, path)
    sd, meta = load_checkpoint(path)
    assert meta == {} and list(strip_prefix(sd)) == ["x"]


def test_pth_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(path, "wb") as f:
        pickle.dump(Payload(), f)
    with pytest.raises(ValueError, match="evil.pth.*weights_only"):
        load_checkpoint(str(path))


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load_checkpoint(str(tmp_path / "nope.safetensors"))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.safetensors"):
        load_checkpoint(str(bad))
    with pytest.raises(ValueError, match="model.onnx: unsupported"):
        (tmp_path / "model.onnx").write_bytes(b"x")
        load_checkpoint(str(tmp_path / "model.onnx"))


def test_check_state_dict_reports_first_mismatches():
    expected = {"a": (2, 3), "b": (4,)}
    check_state_dict({"a": torch.zeros(2, 3), "b": torch.zeros(4)}, expected, "f.pth", "Wav2Lip")
    with pytest.raises(ValueError) as error:
        check_state_dict({"a": torch.zeros(3, 3), "c": torch.zeros(1)}, expected, "f.pth", "Wav2Lip", "put it in models/modit")
    message = str(error.value)
    assert message.startswith("f.pth: not a Wav2Lip checkpoint")
    assert "missing keys ['b']" in message and "unexpected keys ['c']" in message
    assert "a: expected (2, 3), found (3, 3)" in message and message.endswith("put it in models/modit")
