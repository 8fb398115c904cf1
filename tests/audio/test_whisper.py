"""The bundled Whisper base encoder as the DiT's speech features ("mel80+whisper4"): windows, rows, centring."""
import math

import pytest
import torch

from comfyui_modit.modit.audio import whisper
from comfyui_modit.modit.audio.encoder import WHISPER_MEL, AudioEncoder
from comfyui_modit.modit.audio.normalization import SILENT_OFFSET, utterance_centre
from comfyui_modit.modit.checkpoints import bundled_path


def _tiny_encoder(seed=0) -> whisper.WhisperEncoder:
    torch.manual_seed(seed)
    model = whisper.WhisperEncoder(layers=1, width=16, heads=2)
    with torch.no_grad():
        model.positions.normal_()
        model.mel_filters.uniform_(0, 0.01)
    return model.eval()


def _speech_like(seconds: float, rate: int = 16000, seed: int = 0) -> torch.Tensor:
    """Syllables: a 150 Hz buzz gated at 4 Hz, plus a little noise."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * rate)) / rate
    gate = (torch.sin(2 * math.pi * 4 * t) > 0).float()
    return 0.2 * gate * torch.sign(torch.sin(2 * math.pi * 150 * t)) + 0.01 * torch.randn(t.shape, generator=g)


def test_curve_reads_across_30s_windows_like_each_window_alone():
    encoder = _tiny_encoder()
    wave = _speech_like(65.0)
    curve = whisper.WhisperCurve(encoder, wave)
    assert curve.length == math.ceil(wave.shape[0] / 320) and curve.dim == 16
    first = encoder.encode_window(wave[:whisper.WINDOW_SAMPLES])
    second = encoder.encode_window(wave[whisper.WINDOW_SAMPLES:2 * whisper.WINDOW_SAMPLES])
    assert first.shape == (1500, 16) and second.shape == (1500, 16)
    across = curve.vectors(1490, 1510)  # the last 10 rows of window 0, the first 10 of window 1
    assert torch.allclose(across, torch.cat([first[1490:], second[:10]]), atol=1e-5)
    tail = curve.vectors(3000, curve.length)  # the short last window: only rows of real audio
    assert tail.shape[0] == curve.length - 3000 == math.ceil(5.0 * 50)


def test_window_is_zero_padded_to_30s_as_in_training():
    encoder = _tiny_encoder()
    wave = _speech_like(3.0)
    padded = torch.cat([wave, torch.zeros(whisper.WINDOW_SAMPLES - wave.shape[0])])
    assert torch.allclose(encoder.encode_window(wave), encoder.encode_window(padded)[:150], atol=1e-5)


def test_centre_touches_only_the_mel_columns():
    features = torch.randn(200, 832)
    features[:, :320] += torch.linspace(-2, 2, 200)[:, None]  # a speaking level range on the mel part
    centre = utterance_centre(features, 320)
    assert torch.allclose(centre[:320], features[:, :320].mean(0)) and torch.all(centre[320:] == 0)
    silent = torch.full((200, 832), -4.0)
    silent[:, 320:] = torch.randn(200, 512) * 3  # Whisper's columns vary on silence too: not a speech cue
    assert torch.allclose(utterance_centre(silent, 320)[:320], torch.full((320,), -4.0 + SILENT_OFFSET))


@pytest.fixture(scope="module")
def bundled_encoder():
    if not __import__("os").path.isfile(bundled_path(whisper.WEIGHTS_FILE)):
        pytest.skip("bundled Whisper encoder file not present")
    return AudioEncoder.load("built-in whisper base + mel", "fp32")


def test_bundled_encoder_gives_mel80_beside_whisper_rows(bundled_encoder):
    audio = {"waveform": _speech_like(2.0, 22050).reshape(1, 1, -1), "sample_rate": 22050}
    features = bundled_encoder.encode(audio, fps=25.0)
    assert (features.kind, features.dim, features.num_frames) == (WHISPER_MEL, 832, 50)
    mel = AudioEncoder.builtin_mel().encode(audio, fps=25.0).features
    whole = features.features
    assert torch.equal(whole[:, :320], mel)  # the mel part is the built-in mel, unchanged
    assert torch.allclose(features.track[10:20], whole[10:20], atol=1e-4)  # windows read like the whole
    speech_rows = whole[:, 320:]
    assert torch.isfinite(speech_rows).all() and speech_rows.std() > 0.1
    mean, level = features.track.compute_stats()
    assert torch.allclose(level, mel.mean(1), atol=1e-5)  # the silence test reads the mel level only
    assert torch.allclose(utterance_centre(features.track, 320), utterance_centre(whole, 320), atol=1e-4)
    with pytest.raises(ValueError, match="utterance_norm_columns must be 320"):
        utterance_centre(features.track)  # centring Whisper's columns would need statistics never computed


def test_bundled_encoder_follows_the_syllables(bundled_encoder):
    """Whisper's rows must change with the 4 Hz syllable gate, not sit constant: correlate the row-to-row change
    with the gate's edges."""
    audio = {"waveform": _speech_like(4.0).reshape(1, 1, -1), "sample_rate": 16000}
    rows = bundled_encoder.encode(audio, fps=25.0).features[:, 320:]
    on = (torch.sin(2 * math.pi * 4 * (torch.arange(100) + 0.5) / 25) > 0).float()
    voiced, unvoiced = rows[on > 0].mean(0), rows[on == 0].mean(0)
    assert (voiced - unvoiced).norm() > 0.2 * rows.std(0).norm()


def test_reading_frames_in_order_encodes_each_window_once():
    """The sampler reads 2 s windows front to back: each 30 s Whisper window must be encoded once, not per read."""
    from comfyui_modit.modit.audio.features import FeatureTrack, sub_step_points

    encoder = _tiny_encoder()
    calls = []
    curve = whisper.WhisperCurve(encoder, _speech_like(65.0), before_encode=lambda: calls.append(1))
    track = FeatureTrack(curve, 65 * 25, 25.0, 1, sub_step_points(curve.rate, 25.0, 1), 750)
    rows = torch.cat([track[start:start + 50] for start in range(0, 65 * 25, 40)])  # overlapping windows, in order
    assert len(calls) == 3 and rows.shape[1] == 16  # windows 0-30 s, 30-60 s, 60-65 s
