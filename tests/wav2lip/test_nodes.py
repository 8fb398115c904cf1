"""MoDiT Load Wav2Lip and MoDiT Wav2Lip Reference as ComfyUI would call them (no ComfyUI here)."""
import os

import pytest
import torch

from comfyui_modit.modit.wav2lip.model import Wav2LipModel
from comfyui_modit.nodes import NODES, node_info, run_node
from comfyui_modit.nodes.lip_reference import NO_CHECKPOINT


def _choices():
    return node_info(NODES["MoDiTLoadWav2Lip"])["input"]["required"]["model_name"][1]["options"]


def test_without_a_checkpoint_the_loader_says_which_file_goes_where(models_dir):
    assert _choices() == [NO_CHECKPOINT]
    with pytest.raises(FileNotFoundError) as error:
        run_node("MoDiTLoadWav2Lip", model_name=NO_CHECKPOINT, dtype="auto")
    message = str(error.value)
    assert "wav2lip_gan.pth" in message and "wav2lip.pth" in message
    assert "models/wav2lip" in message and "models/modit" in message


def test_dropdown_lists_both_folders_wav2lip_names_first(models_dir):
    for path in (models_dir / "modit" / "modit_dit.safetensors", models_dir / "modit" / "Wav2Lip_GAN.pth",
                 models_dir / "wav2lip" / "wav2lip.pth", models_dir / "wav2lip" / "notes.txt"):
        path.write_bytes(b"")
    assert _choices() == ["Wav2Lip_GAN.pth", "wav2lip.pth", "modit_dit.safetensors"]


def test_loader_reads_the_public_layout_from_models_wav2lip(models_dir, public_pth):
    os.link(public_pth, models_dir / "wav2lip" / "wav2lip_gan.pth")  # (the adapter refuses symlinks leading out)
    assert _choices() == ["wav2lip_gan.pth"]
    (model,) = run_node("MoDiTLoadWav2Lip", model_name="wav2lip_gan.pth", dtype="fp32")
    assert isinstance(model, Wav2LipModel) and model.dtype == torch.float32 and model.name == "wav2lip_gan.pth"


def test_loader_names_a_wrong_file(models_dir):
    torch.save({"state_dict": {"module.encoder.weight": torch.zeros(2, 2)}}, models_dir / "modit" / "wav2lip.pth")
    with pytest.raises(ValueError, match=r"wav2lip.pth: not a Wav2Lip generator checkpoint: missing keys"):
        run_node("MoDiTLoadWav2Lip", model_name="wav2lip.pth", dtype="auto")


def test_reference_node_returns_aligned_frames(random_network, make_face, make_audio):
    model = Wav2LipModel(random_network, "random.pth", torch.float32, torch.device("cpu"))
    face, audio = make_face(64), make_audio(3)
    crop_before = face.crop.clone()
    (frames,) = run_node("MoDiTWav2LipReference", wav2lip_model=model, face=face, audio_features=audio,
                         batch_size=4, blend="box", pad_bottom=10)
    assert frames.shape == (3, 64, 64, 3) and frames.dtype == torch.float32 and frames.device.type == "cpu"
    assert 0 <= frames.min() and frames.max() <= 1
    assert torch.equal(face.crop, crop_before), "the node must not change its input"


def test_reference_node_checks_frames_to_dub(random_network, make_face, make_audio):
    model = Wav2LipModel(random_network, "random.pth", torch.float32, torch.device("cpu"))
    face, audio = make_face(64), make_audio(4)
    inputs = {"wav2lip_model": model, "face": face, "audio_features": audio, "batch_size": 8, "blend": "feathered",
              "pad_bottom": 10}
    with pytest.raises(ValueError, match=r"frames: expected 1 or 4 frames .* got 3"):
        run_node("MoDiTWav2LipReference", **inputs, frames=torch.rand(3, 64, 64, 3))
    with pytest.raises(ValueError, match="square"):
        run_node("MoDiTWav2LipReference", **inputs, frames=torch.rand(4, 64, 80, 3))
