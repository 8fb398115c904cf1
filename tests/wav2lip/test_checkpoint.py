"""Public Wav2Lip checkpoints load as they are; anything else is refused with the file name and a key report."""
import pytest
import torch
from safetensors.torch import save_file

from comfyui_modit.modit.wav2lip.checkpoint import load_wav2lip, read_wav2lip_state_dict


def _same_weights(network, state_dict):
    loaded = network.state_dict()
    assert list(loaded) == list(state_dict)
    for key, value in state_dict.items():
        assert torch.equal(loaded[key], value), key


def test_public_pth_layout_loads_strictly(public_pth, random_state_dict):
    """{"state_dict": {"module.<key>": ...}, "optimizer": ..., "global_step": ...} read with weights_only."""
    network = load_wav2lip(str(public_pth))
    _same_weights(network, random_state_dict)
    assert not network.training
    assert all(not p.requires_grad for p in network.parameters())


def test_safetensors_with_and_without_module_prefix(tmp_path, random_state_dict):
    plain = tmp_path / "wav2lip.safetensors"
    prefixed = tmp_path / "wav2lip_gan.safetensors"
    save_file({k: v.contiguous() for k, v in random_state_dict.items()}, str(plain))
    save_file({f"module.{k}": v.contiguous() for k, v in random_state_dict.items()}, str(prefixed))
    for path in (plain, prefixed):
        _same_weights(load_wav2lip(str(path)), random_state_dict)


def test_plain_state_dict_pth_loads(tmp_path, random_state_dict):
    path = tmp_path / "converted.pth"
    torch.save(random_state_dict, path)
    _same_weights(load_wav2lip(str(path)), random_state_dict)


def test_dtype_is_applied(public_pth):
    network = load_wav2lip(str(public_pth), torch.float16)
    assert network.face_encoder_blocks[0][0].conv_block[0].weight.dtype == torch.float16
    assert network.output_block[1].bias.dtype == torch.float16


def test_missing_batch_counters_are_tolerated(tmp_path, random_state_dict):
    path = tmp_path / "no_counters.safetensors"
    save_file({k: v.contiguous() for k, v in random_state_dict.items() if not k.endswith("num_batches_tracked")},
              str(path))
    network = load_wav2lip(str(path))
    assert network.face_encoder_blocks[0][0].conv_block[1].running_var.equal(
        random_state_dict["face_encoder_blocks.0.0.conv_block.1.running_var"])


def test_wrong_shape_names_file_and_key(tmp_path, random_state_dict):
    broken = dict(random_state_dict)
    broken["output_block.1.weight"] = torch.zeros(3, 64, 1, 1)
    path = tmp_path / "my_lipsync.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in broken.items()}}, path)
    with pytest.raises(ValueError) as error:
        load_wav2lip(str(path))
    message = str(error.value)
    assert "my_lipsync.pth" in message and "Wav2Lip" in message
    assert "output_block.1.weight: expected (3, 32, 1, 1), found (3, 64, 1, 1)" in message
    assert "models/wav2lip" in message  # says where the right file goes


def test_another_model_is_refused_with_first_mismatching_keys(tmp_path):
    """A different network (here a SyncNet-like expert) is named as such, with missing and unexpected keys."""
    other = {f"module.face_encoder.{i}.conv_block.0.weight": torch.zeros(4, 4, 3, 3) for i in range(17)}
    other.update({f"module.audio_encoder.{i}.conv_block.0.weight": torch.zeros(4, 4, 3, 3) for i in range(14)})
    path = tmp_path / "lipsync_expert.pth"
    torch.save({"state_dict": other, "global_step": 1}, path)
    with pytest.raises(ValueError) as error:
        read_wav2lip_state_dict(str(path))
    message = str(error.value)
    assert message.startswith("lipsync_expert.pth: not a Wav2Lip generator checkpoint")
    assert "missing keys ['face_encoder_blocks.0.0.conv_block.0.weight'" in message
    assert "unexpected keys ['face_encoder.0.conv_block.0.weight'" in message
    assert "SyncNet" in message


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "wav2lip.pth"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "hparams": torch.nn.ReLU()}, path)  # a module: pickled class
    with pytest.raises(ValueError, match="wav2lip.pth: cannot be read as a PyTorch weights file with weights_only"):
        load_wav2lip(str(path))


def test_unknown_format_is_refused(tmp_path):
    path = tmp_path / "wav2lip_gan.onnx"
    path.write_bytes(b"\x08\x07onnx")
    with pytest.raises(ValueError, match="wav2lip_gan.onnx: unsupported checkpoint extension"):
        load_wav2lip(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        load_wav2lip(str(tmp_path / "nothere.pth"))
