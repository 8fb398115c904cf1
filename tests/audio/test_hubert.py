"""HuBERT from user weights (a tiny random model saved in the real on-disk layouts) and core's encoder output."""
import math

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from comfyui_modit.modit.audio import hubert
from comfyui_modit.modit.audio.alignment import align_audio, encode_frames
from comfyui_modit.modit.audio.encoder import AudioEncoder, TensorCurve, encoder_choices, features_from_encoder_output
from comfyui_modit.modit.audio.resample import to_16k_mono

transformers = pytest.importorskip("transformers")


def tiny_hubert() -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.HubertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=1,  # 64 / 64 heads
                                       intermediate_size=96, conv_dim=(16,) * 7, num_conv_pos_embeddings=16,
                                       num_conv_pos_embedding_groups=2)
    return transformers.HubertModel(config).eval()


@pytest.fixture
def tiny_models(models_dir):
    """The same tiny model as a save_pretrained folder and as a fairseq-style single file (prefix, weight_g/v)."""
    model = tiny_hubert()
    model.save_pretrained(str(models_dir / "audio_encoders" / "tiny-hubert"))
    renames = {"encoder.pos_conv_embed.conv.parametrizations.weight.original0": "encoder.pos_conv_embed.conv.weight_g",
               "encoder.pos_conv_embed.conv.parametrizations.weight.original1": "encoder.pos_conv_embed.conv.weight_v"}
    state = {"hubert." + renames.get(k, k): v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(models_dir / "modit" / "tiny_hubert.safetensors"))
    save_file({"face_encoder_blocks.0.weight": torch.zeros(2)}, str(models_dir / "modit" / "wav2lip.safetensors"))
    return model


def speech(seconds: float = 2.0, rate: int = 22050) -> dict:
    g = torch.Generator().manual_seed(1)
    return {"waveform": torch.randn(1, 2, int(seconds * rate), generator=g) * 0.2, "sample_rate": rate}


def test_choices_list_encoders_only(tiny_models):
    assert encoder_choices() == ["built-in mel", "built-in whisper base + mel", "audio_encoders/tiny-hubert", "modit/tiny_hubert.safetensors"]


@pytest.mark.parametrize("choice", ["audio_encoders/tiny-hubert", "modit/tiny_hubert.safetensors"])
def test_hubert_features(tiny_models, choice):
    encoder = AudioEncoder.load(choice, "fp32")
    assert (encoder.kind, encoder.dim) == ("hubert", 64)
    audio = speech()
    features = encoder.encode(audio, 25.0)
    assert features.kind == "hubert" and features.features.shape == (50, 64)  # 2 s at 25 fps
    assert torch.isfinite(features.features).all()
    # The curve is exactly the model's output on the normalised 16 kHz recording.
    x16 = to_16k_mono(align_audio(audio, 25.0).waveform.reshape(1, 1, -1), 22050)[0]
    x = (x16 - x16.mean()) / torch.sqrt(x16.var(unbiased=False) + 1e-7)
    with torch.no_grad():
        expected = tiny_models(x.unsqueeze(0)).last_hidden_state[0]  # [N, 64] at 50 Hz
    curve = hubert.EncoderCurve(encoder.patcher.model, x16, True, torch.float32)
    assert curve.length == expected.shape[0] == hubert.num_vectors(x.shape[0])
    assert torch.allclose(curve.vectors(0, curve.length), expected, atol=1e-5)
    # Frame i is the mean of the 50 Hz curve (linearly interpolated) at 4 times spread over [i / 25, (i + 1) / 25).
    for i in (0, 20, 49):
        times = (i + (torch.arange(4) + 0.5) / 4) / 25.0
        position = ((times - hubert.T0) * 50).clamp(0, expected.shape[0] - 1).numpy()
        grid = np.arange(expected.shape[0])
        reference = np.stack([np.interp(position, grid, expected[:, d].numpy()) for d in range(64)], 1).mean(0)
        assert np.abs(features.features[i].numpy() - reference).max() < 1e-4


def test_folder_and_file_agree(tiny_models):
    audio = speech(1.0)
    a = AudioEncoder.load("audio_encoders/tiny-hubert").encode(audio, 30.0).features
    b = AudioEncoder.load("modit/tiny_hubert.safetensors").encode(audio, 30.0).features
    assert torch.allclose(a, b, atol=1e-5)


def test_windows_are_independent_of_chunking(tiny_models):
    """Long audio: fixed windows with context, so frame chunking never changes a value (and progress per chunk)."""
    x = to_16k_mono(speech(3.5)["waveform"], 22050)[0]
    curve = hubert.EncoderCurve(tiny_models, x, True, torch.float32, chunk_seconds=0.6, context_seconds=0.2)
    assert curve.length > curve.chunk + 2 * curve.context  # really windowed
    whole = curve.vectors(0, curve.length)
    split = torch.cat([curve.vectors(0, 37), curve.vectors(37, 101), curve.vectors(101, curve.length)])
    assert torch.equal(whole, split)
    one_shot = encode_frames(curve, 87, 25.0, 1, 4, chunk_frames=87)
    chunked = encode_frames(curve, 87, 25.0, 1, 4, chunk_frames=7)
    assert torch.allclose(one_shot, chunked, atol=1e-6)


def test_time_resampling_is_centred():
    """A ramp curve (value = index) at 50 Hz: each frame gets the curve index of its own mid-time."""
    ramp = torch.arange(500, dtype=torch.float32)[:, None]  # [N, 1], vector n at t0 + n / 50
    curve = TensorCurve(ramp, 50.0, hubert.T0)
    for fps in (10.0, 25.0, 60.0):
        values = encode_frames(curve, 50, fps, 1, 8, chunk_frames=13)[:, 0]
        expected = torch.tensor([((i + 0.5) / fps - hubert.T0) * 50 for i in range(50)])
        assert torch.allclose(values[2:], expected[2:], atol=1e-4)


def test_bad_models(models_dir, tiny_models):
    (models_dir / "audio_encoders" / "empty").mkdir()
    (models_dir / "audio_encoders" / "empty" / "config.json").write_text('{"model_type": "hubert"}')
    with pytest.raises(FileNotFoundError, match="no weights"):
        AudioEncoder.load("audio_encoders/empty")
    with pytest.raises(ValueError, match="wav2lip.safetensors: not a HuBERT"):
        AudioEncoder.load("modit/wav2lip.safetensors")
    with pytest.raises(FileNotFoundError, match="models/audio_encoders"):
        AudioEncoder.load("audio_encoders/missing.safetensors")
    with pytest.raises(ValueError, match="built-in mel"):
        AudioEncoder.load("somewhere/else")


def test_core_encoder_output():
    audio = speech(2.0, rate=16000)
    ramp = torch.arange(99, dtype=torch.float32)[None, :, None].expand(1, 99, 768)  # core wav2vec2: 50 Hz
    features = features_from_encoder_output({"encoded_audio": ramp, "audio_samples": 32000}, audio, 25.0)
    assert features.kind == "wav2vec2" and features.features.shape == (50, 768)
    assert features.waveform.shape[0] == 32000
    assert torch.allclose(features.features[10, 0], torch.tensor((10.5 / 25 - hubert.T0) * 50), atol=1e-4)
    whisper = torch.zeros(1, 1500, 1280)  # whisper pads to 30 s
    assert features_from_encoder_output({"encoded_audio": whisper}, audio, 25.0).kind == "whisper"
    with pytest.raises(ValueError, match="same AUDIO"):
        features_from_encoder_output({"encoded_audio": ramp[:, :20]}, audio, 25.0)
    with pytest.raises(ValueError, match="AudioEncoderEncode"):
        features_from_encoder_output({"samples": ramp}, audio, 25.0)
    assert math.isclose(features.duration, 2.0)
