"""Audio is aligned to frames by the ceil rule; features put a sound in the frame that shows it; chunks join."""
import math

import numpy as np
import pytest
import torch

from comfyui_modit.modit import comfy_adapter
from comfyui_modit.modit.audio.alignment import align_audio
from comfyui_modit.modit.audio.encoder import AudioEncoder
from comfyui_modit.modit.audio.features import MEL80_DIM, mel80_features, to_16k
from comfyui_modit.modit.timing import samples_for_frames


def audio_dict(samples: torch.Tensor, rate: int) -> dict:
    return {"waveform": samples.reshape(1, samples.shape[0] if samples.ndim == 2 else 1, samples.shape[-1]),
            "sample_rate": rate}


@pytest.mark.parametrize("rate,fps,seconds", [(16000, 25.0, 1.0), (44100, 25.0, 1.013), (48000, 30000 / 1001, 2.5),
                                              (22050, 60.0, 0.77), (8000, 10.0, 0.1)])
def test_frame_count_and_padding_rule(rate, fps, seconds):
    S = int(rate * seconds)
    speech = torch.rand(2, S) * 2 - 1
    features = AudioEncoder.builtin_mel().encode(audio_dict(speech, rate), fps)
    T = math.ceil(S * fps / rate - 1e-9)  # a partial last frame counts
    assert features.num_frames == T and features.dim == MEL80_DIM and features.kind == "mel80"
    assert features.fps == fps and features.sample_rate == rate
    assert features.waveform.shape[0] == samples_for_frames(T, rate, fps) >= S
    assert torch.allclose(features.waveform[:S], speech.mean(0))  # mono = channel mean, untouched
    assert torch.all(features.waveform[S:] == 0)  # zero padding after the speech
    comfy = features.to_comfy_audio()
    assert comfy["waveform"].shape == (1, 1, features.waveform.shape[0]) and comfy["sample_rate"] == rate
    if float(fps).is_integer():  # core CreateVideo keeps ceil(sr / fps * frames) samples (float maths for NTSC)
        assert math.ceil(rate / fps * T) == features.waveform.shape[0]


@pytest.mark.parametrize("fps,rate", [(25.0, 16000), (30.0, 44100), (60.0, 48000), (10.0, 22050)])
def test_click_lands_in_its_frame(fps, rate):
    rng = np.random.default_rng(int(fps))
    seconds = 3.0
    for _ in range(4):
        frame = int(rng.integers(2, int(seconds * fps) - 3))
        t = (frame + rng.uniform(0.35, 0.65)) / fps  # well inside the frame (mel hop is 12.5 ms)
        wave = torch.zeros(int(seconds * rate))
        start = int(t * rate)
        wave[start:start + rate // 1000] = 0.8  # a 1 ms click in digital silence
        features = AudioEncoder.builtin_mel().encode(audio_dict(wave, rate), fps).features  # [T, 320]
        energy = features.reshape(features.shape[0], 4, 80).mean(-1).amax(-1)  # loudest sub-step per frame
        assert int(energy.argmax()) == math.floor(t * fps) == frame


def test_silence_is_valid_and_floor():
    features = AudioEncoder.builtin_mel().encode(audio_dict(torch.zeros(1, 16000), 16000), 25.0)
    assert features.num_frames == 25 and torch.all(features.features == -4.0)


def test_chunked_equals_one_shot_with_progress(progress_calls):
    rng = torch.Generator().manual_seed(0)
    wave = torch.randn(2, 44100 * 12, generator=rng) * torch.linspace(0, 0.5, 44100 * 12)
    aligned = align_audio(audio_dict(wave, 44100), 25.0)
    calls = progress_calls
    one_16k = to_16k(aligned, torch.device("cpu"), chunk_seconds=1000.0)
    chunked_16k = to_16k(aligned, torch.device("cpu"), comfy_adapter.Progress(10), units=10, chunk_seconds=1.1)
    assert torch.allclose(one_16k, chunked_16k, atol=2e-6)
    assert len(calls) >= 10  # one update (and cancel check) per resampling chunk
    calls.clear()
    one_shot = mel80_features(one_16k, aligned.num_frames, 25.0, chunk_seconds=1000.0)
    chunked = mel80_features(one_16k, aligned.num_frames, 25.0, comfy_adapter.Progress(aligned.num_frames),
                             chunk_seconds=0.7)
    assert torch.allclose(one_shot, chunked, atol=1e-5)
    assert len(calls) == math.ceil(aligned.num_frames / int(0.7 * 25))  # progress per chunk
    assert calls[-1][0] == calls[-1][1] == aligned.num_frames


def test_bad_audio_gives_clear_errors():
    encode = AudioEncoder.builtin_mel().encode
    with pytest.raises(ValueError, match="None"):
        encode(None, 25.0)
    with pytest.raises(ValueError, match="empty"):
        encode(audio_dict(torch.zeros(1, 0), 16000), 25.0)
    bad = torch.zeros(1, 16000)
    bad[0, 8000] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite.*0.500 s"):
        encode(audio_dict(bad, 16000), 25.0)
    bad[0, 8000] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinite"):
        encode(audio_dict(bad, 16000), 25.0)
    with pytest.raises(ValueError, match="shorter than one video frame"):
        encode(audio_dict(torch.zeros(1, 639), 16000), 25.0)
    assert encode(audio_dict(torch.zeros(1, 640), 16000), 25.0).num_frames == 1
    with pytest.raises(ValueError, match="AUDIO dict"):
        encode({"samples": torch.zeros(1, 1, 10)}, 25.0)
    with pytest.raises(ValueError, match="sample_rate"):
        encode({"waveform": torch.zeros(1, 1, 1000), "sample_rate": 0}, 25.0)


def test_batch_uses_first_item(caplog):
    batch = torch.stack([torch.full((1, 16000), 0.25), torch.full((1, 16000), -0.5)])  # [2, 1, S]
    features = AudioEncoder.builtin_mel().encode({"waveform": batch, "sample_rate": 16000}, 25.0)
    assert torch.allclose(features.waveform, torch.full((16000,), 0.25))
    assert "first one" in caplog.text
