"""The two audio nodes: thin wrappers that return aligned features, audio, frame count and fps."""
import pytest
import torch

from comfyui_modit.nodes import run_node


def test_encode_audio_node_defaults_to_mel():
    waveform = torch.rand(1, 2, 44100) - 0.5  # 1 s stereo at 44.1 kHz
    audio = {"waveform": waveform, "sample_rate": 44100}
    features, aligned, frame_count, fps = run_node("MoDiTEncodeAudio", audio=audio, fps=25.0)
    assert (frame_count, fps) == (25, 25.0) and features.kind == "mel80" and features.features.shape == (25, 320)
    assert aligned["sample_rate"] == 44100 and aligned["waveform"].shape == (1, 1, 44100)
    assert torch.equal(audio["waveform"], waveform)  # input untouched
    features_30, _, frames_30, _ = run_node("MoDiTEncodeAudio", audio=audio, fps=30.0)
    assert frames_30 == 30 and features_30.fps == 30.0


def test_encode_audio_node_errors():
    audio = {"waveform": torch.zeros(1, 1, 16000), "sample_rate": 16000}
    with pytest.raises(ValueError, match="fps"):
        run_node("MoDiTEncodeAudio", audio=audio, fps=5.0)
    with pytest.raises(ValueError, match="only one"):
        run_node("MoDiTEncodeAudio", audio=audio, fps=25.0, audio_encoder=object(), audio_encoder_output={})
    with pytest.raises(ValueError, match="None"):
        run_node("MoDiTEncodeAudio", audio=None, fps=25.0)


def test_core_encoder_output_through_node():
    audio = {"waveform": torch.zeros(1, 1, 32000), "sample_rate": 16000}
    output = {"encoded_audio": torch.zeros(1, 99, 1024), "encoded_audio_all_layers": [], "audio_samples": 32000}
    features, _, frame_count, _ = run_node("MoDiTEncodeAudio", audio=audio, fps=25.0, audio_encoder_output=output)
    assert features.kind == "wav2vec2" and features.dim == 1024 and frame_count == 50


def test_loader_lists_and_loads(models_dir, combo_options):
    choices = combo_options("MoDiTLoadAudioEncoder", "encoder")
    assert choices == ["built-in mel", "built-in whisper base + mel"]
    (encoder,) = run_node("MoDiTLoadAudioEncoder", encoder="built-in mel", dtype="auto")
    assert (encoder.kind, encoder.dim) == ("mel80", 320)
