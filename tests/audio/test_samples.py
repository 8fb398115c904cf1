"""Audio read in windows (modit/audio/samples.py): a decoded file and a core AUDIO tensor give the same samples,
features and soundtrack, and the pack's nodes never build the whole recording from a StreamedAudio."""
import numpy as np
import pytest
import soundfile
import torch

from comfyui_modit.modit_app import graph_runner
from comfyui_modit.modit.audio.encoder import AudioEncoder
from comfyui_modit.modit.audio.features import FeatureTrack
from comfyui_modit.modit.audio.samples import (FileSamples, Resampled, StreamedAudio, TensorSamples, decode_to_file,
                                               samples_of)
from comfyui_modit.modit.audio.resample import resample
from comfyui_modit.modit.audio.normalization import utterance_centre
from comfyui_modit.modit.timing import samples_for_frames
from comfyui_modit.nodes import run_node

RATE = 22050


def _speech(seconds: float, channels: int = 1, seed: int = 0) -> np.ndarray:
    """[S, C] float32: a pitch-varying buzz gated on and off like syllables (PCM-16 exact)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    gate = (np.sin(2 * np.pi * 3.1 * t) > 0).astype(np.float32)
    wave = [0.4 * gate * np.sin(2 * np.pi * (150 + 60 * c + 40 * np.sin(t)) * t) + 0.01 * rng.standard_normal(t.shape)
            for c in range(channels)]
    return np.round(np.stack(wave, 1) * 32767).astype(np.float32) / 32768


@pytest.fixture
def wav(tmp_path):
    def make(seconds: float, channels: int = 1):
        data = _speech(seconds, channels)
        path = tmp_path / f"speech_{seconds}_{channels}.wav"
        soundfile.write(str(path), data, RATE, subtype="PCM_16")
        return str(path), torch.from_numpy(data.T.copy())  # [C, S]

    return make


def test_decoded_file_reads_like_the_tensor(wav):
    path, expected = wav(3.3, channels=2)
    audio = graph_runner.LoadAudio().run(path)[0]
    assert isinstance(audio, StreamedAudio) and isinstance(audio.samples, FileSamples)
    assert audio["sample_rate"] == RATE and "waveform" in audio
    assert audio["waveform"].shape == (1, 2, expected.shape[1])  # the core AUDIO contract, built on access
    torch.testing.assert_close(audio["waveform"][0], expected, atol=1e-6, rtol=0)
    samples = samples_of(audio)
    for start, stop in ((0, 1), (1000, 4097), (expected.shape[1] - 5, expected.shape[1] + 7), (-3, 4)):
        want = TensorSamples(expected, RATE).read(start, stop)
        torch.testing.assert_close(samples.read(start, stop), want, atol=1e-6, rtol=0)
    assert samples.read(-3, 0).abs().sum() == 0 and samples.read(10 ** 9, 10 ** 9 + 2).abs().sum() == 0
    torch.testing.assert_close(samples.mono()[100:200], expected.mean(0)[100:200], atol=1e-6, rtol=0)


def test_resampled_windows_join_to_the_one_pass_result():
    x = torch.from_numpy(_speech(1.0, channels=2).T.copy())
    whole = resample(x, RATE, 48000)
    windows = Resampled(TensorSamples(x, RATE), 48000)
    assert windows.length == whole.shape[1]
    pieces = torch.cat([windows.read(a, min(a + 4801, windows.length)) for a in range(0, windows.length, 4801)], 1)
    torch.testing.assert_close(pieces, whole, atol=1e-5, rtol=0)


def test_file_and_tensor_give_the_same_features_and_nothing_audio_sized(wav, monkeypatch):
    """Encode Audio on the CLI's StreamedAudio: the same features and aligned audio as on the tensor, while the
    recording is never built as one tensor (the node reads windows) and the features are a lazy track."""
    path, expected = wav(4.5, channels=2)
    streamed = graph_runner.LoadAudio().run(path)[0]
    from_tensor = AudioEncoder.builtin_mel().encode({"waveform": expected[None], "sample_rate": RATE}, 25.0)

    def no_whole_tensor(self):
        raise AssertionError("the whole recording was built as a tensor")

    monkeypatch.setattr(FileSamples, "tensor", no_whole_tensor)
    features, audio, frame_count, fps = run_node("MoDiTEncodeAudio", audio=streamed, fps=25.0)
    assert isinstance(features.track, FeatureTrack) and frame_count == from_tensor.num_frames == 113
    assert isinstance(audio, StreamedAudio)  # Encode Audio's AUDIO output stays on file as well
    monkeypatch.undo()
    torch.testing.assert_close(features.features, from_tensor.features, atol=1e-4, rtol=0)
    torch.testing.assert_close(features.waveform, from_tensor.waveform, atol=1e-6, rtol=0)
    assert features.waveform.shape[0] == samples_for_frames(113, RATE, 25.0)
    assert torch.all(features.waveform[expected.shape[1]:] == 0)  # the padding to whole frames
    torch.testing.assert_close(audio["waveform"][0, 0], features.waveform)
    # a window of the track equals the same rows of the whole; the centre needs no whole [T, D]
    torch.testing.assert_close(features.track[40:77], from_tensor.features[40:77], atol=1e-4, rtol=0)
    torch.testing.assert_close(utterance_centre(features.track), utterance_centre(from_tensor.features),
                               atol=1e-4, rtol=0)


def test_core_tensor_audio_output_is_a_plain_dict():
    """In ComfyUI the AUDIO input is a tensor: Encode Audio's AUDIO output stays a plain core dict of tensors."""
    x = torch.from_numpy(_speech(1.0, channels=2).T.copy())[None]
    _, audio, frames, _ = run_node("MoDiTEncodeAudio", audio={"waveform": x, "sample_rate": RATE}, fps=25.0)
    assert type(audio) is dict and torch.is_tensor(audio["waveform"])
    assert audio["waveform"].shape == (1, 1, samples_for_frames(frames, RATE, 25.0))


def test_sampling_from_the_lazy_track_equals_sampling_from_the_tensor(wav):
    """The shipped DiT (per-utterance normalisation) sampled window by window from the FeatureTrack gives the
    motion it gives from the whole [T, D] tensor: the lazy route changes memory, not results."""
    import os

    from comfyui_modit.modit.dit.handle import DiTHandle
    from comfyui_modit.modit.dit.sampling import SamplingOptions
    from comfyui_modit.modit.types import AudioFeatures
    from ..dit.synthetic import face

    path, _ = wav(6.0)
    lazy = AudioEncoder.builtin_mel().encode(graph_runner.LoadAudio().run(path)[0], 25.0)
    whole = AudioFeatures(features=lazy.features, fps=lazy.fps, kind=lazy.kind, waveform=lazy.waveform,
                          sample_rate=lazy.sample_rate)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    dit = DiTHandle.from_file(os.path.join(root, "modit", "weights", "modit_embedded_v2_real.safetensors"), "fp32")
    config = dit.info.config
    assert config.audio_norm == "utterance" and lazy.num_frames > config.window  # more than one window
    source = face(dit.info.space, config.expression_dim)
    options = SamplingOptions(num_steps=2, seed=3)
    a = dit.sample(lazy, source, options).expression
    b = dit.sample(whole, source, options).expression
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
