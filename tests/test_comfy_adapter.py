"""The adapter registers models/modit with ComfyUI's idiom and finds models without ComfyUI."""
import types

import pytest

from comfyui_modit.modit import comfy_adapter


def _fake_folder_paths(tmp_path, existing=None):
    fake = types.SimpleNamespace(models_dir=str(tmp_path / "models"), supported_pt_extensions={".safetensors", ".pth"},
                                 folder_names_and_paths={})
    if existing:
        fake.folder_names_and_paths.update(existing)
    return fake


def test_registers_new_folders(tmp_path, monkeypatch):
    fake = _fake_folder_paths(tmp_path)
    monkeypatch.setattr(comfy_adapter, "HAVE_COMFY", True)
    monkeypatch.setattr(comfy_adapter, "_folder_paths", fake)
    comfy_adapter.register_model_folders()
    paths, extensions = fake.folder_names_and_paths["modit"]
    assert paths == [str(tmp_path / "models" / "modit")] and extensions == {".safetensors", ".pth"}
    assert "wav2lip" in fake.folder_names_and_paths


def test_keeps_extra_model_paths_entry(tmp_path, monkeypatch):
    # extra_model_paths.yaml registers unknown keys with an empty extension set (which would list every file).
    fake = _fake_folder_paths(tmp_path, {"modit": (["/data/modit"], set())})
    monkeypatch.setattr(comfy_adapter, "HAVE_COMFY", True)
    monkeypatch.setattr(comfy_adapter, "_folder_paths", fake)
    comfy_adapter.register_model_folders()
    paths, extensions = fake.folder_names_and_paths["modit"]
    assert paths == ["/data/modit", str(tmp_path / "models" / "modit")]
    assert extensions == {".safetensors", ".pth"}


def test_fallback_lists_and_resolves_models(models_dir):
    (models_dir / "modit" / "sub").mkdir()
    (models_dir / "modit" / "sub" / "a.safetensors").write_bytes(b"x")
    (models_dir / "modit" / "notes.txt").write_text("not a model")
    (models_dir / "modit" / "hubert").mkdir()
    assert comfy_adapter.list_models("modit") == ["sub/a.safetensors"]
    assert "hubert" in comfy_adapter.list_models("modit", directories=True)
    assert comfy_adapter.model_path("modit", "sub/a.safetensors").endswith("a.safetensors")
    with pytest.raises(FileNotFoundError, match="models/modit"):
        comfy_adapter.model_path("modit", "missing.pth")
    with pytest.raises(FileNotFoundError):
        comfy_adapter.model_path("modit", "../wav2lip")  # no escaping the folder


def test_symlinked_model_is_found(models_dir, tmp_path):
    shared = tmp_path / "elsewhere" / "wav2lip.pth"
    shared.parent.mkdir()
    shared.write_bytes(b"x")
    (models_dir / "wav2lip" / "wav2lip.pth").symlink_to(shared)
    assert comfy_adapter.list_models("wav2lip") == ["wav2lip.pth"]
    assert comfy_adapter.model_path("wav2lip", "wav2lip.pth") == str(models_dir / "wav2lip" / "wav2lip.pth")


def test_dtype_choices():
    import torch

    assert comfy_adapter.resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert comfy_adapter.resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ValueError, match="dtype"):
        comfy_adapter.resolve_dtype("fp8", torch.device("cpu"))
