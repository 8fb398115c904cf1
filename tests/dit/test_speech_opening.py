"""The portrait's own mouth against speakers' (modit/dit/speech_opening.py): a closed-lip portrait's jaw is lifted
while the audio carries speech, never in pauses or silence, never for a portrait whose lips are apart, and through the
node on the jaw alone; a mouth caught wide open over a dark interior, and no other, is sampled with its lips brought
part of the way together (close_dark_mouth)."""
import math
from dataclasses import replace

import pytest
import torch

from comfyui_modit.modit.dit import speech_opening
from comfyui_modit.modit.face import landmarks as lm
from comfyui_modit.modit.face.components import JAW_OPEN
from comfyui_modit.modit.timing import samples_for_frames
from comfyui_modit.modit.types import AudioFeatures
from comfyui_modit.nodes import run_node

from .synthetic import audio_features, face
from .test_nodes import _load

FPS, RATE = 25.0, 16000


def mesh(lips_apart: float) -> torch.Tensor:
    """468 points with outer eye corners 100 px apart and the inner lips `lips_apart` of that apart."""
    points = torch.zeros(468, 3)
    points[lm.RIGHT_EYE_CORNERS[0], :2] = torch.tensor([50.0, 100.0])
    points[lm.LEFT_EYE_CORNERS[0], :2] = torch.tensor([150.0, 100.0])
    points[lm.UPPER_LIP_MID_INNER, :2] = torch.tensor([100.0, 200.0])
    points[lm.LOWER_LIP_MID_INNER, :2] = torch.tensor([100.0, 200.0 + 100.0 * lips_apart])
    return points


def speech_between_pauses(seconds=(1.0, 2.0, 1.0), noise_dbfs: float | None = None) -> AudioFeatures:
    """Silence (or steady noise at noise_dbfs), a voiced sound (a 140 Hz buzz, its loudness moving at syllable rate),
    silence."""
    T = round(sum(seconds) * FPS)
    waveform = torch.zeros(samples_for_frames(T, RATE, FPS))
    if noise_dbfs is not None:
        waveform += torch.randn(waveform.shape, generator=torch.Generator().manual_seed(0)) * 10 ** (noise_dbfs / 20)
    start, stop = round(seconds[0] * RATE), round((seconds[0] + seconds[1]) * RATE)
    t = torch.arange(stop - start) / RATE
    waveform[start:stop] = 0.3 * torch.sin(2 * math.pi * 140 * t) * (0.6 + 0.4 * torch.sin(2 * math.pi * 4 * t))
    return AudioFeatures(features=torch.zeros(T, 80), fps=FPS, kind="mel80", waveform=waveform, sample_rate=RATE)


def test_a_closed_mouth_opens_in_speech_and_rests_in_its_pauses():
    features = speech_between_pauses()
    lift = speech_opening.speech_lift(features, mesh(0.0))
    assert lift.shape == (100,)
    assert float(lift[:20].abs().max()) < 1e-3 and float(lift[-20:].abs().max()) < 1e-3, "pauses keep the mouth"
    assert float(lift[35:65].min()) > 0.5 * speech_opening.SPEECH_LIFT, "speech lifts the jaw"
    assert float(lift.max()) <= speech_opening.SPEECH_LIFT + 1e-6


def test_steady_noise_is_not_speech_however_loud():
    for level in (-50.0, -35.0):
        assert not speech_opening.speech_lift(speech_between_pauses((4.0, 0.0, 0.0), level), mesh(0.0)).any(), level
    noisy = speech_opening.speech_lift(speech_between_pauses(noise_dbfs=-45.0), mesh(0.0))
    assert float(noisy[:20].max()) < 1e-3 and float(noisy[-20:].max()) < 1e-3, "the noise in the pauses"
    assert float(noisy[35:65].min()) > 0.5 * speech_opening.SPEECH_LIFT, "the speech over it"


def test_lips_apart_in_the_portrait_or_no_speech_get_no_lift():
    features = speech_between_pauses()
    assert not speech_opening.speech_lift(features, mesh(0.12)).any(), "a portrait caught mid-word"
    assert not speech_opening.speech_lift(features, mesh(0.0), lift=0.0).any()
    silent = speech_between_pauses((4.0, 0.0, 0.0))
    assert not speech_opening.speech_lift(silent, mesh(0.0)).any(), "digital silence"
    half = speech_opening.speech_lift(features, mesh(0.055))  # half way from lips together to apart
    full = speech_opening.speech_lift(features, mesh(0.0))
    assert torch.allclose(half, 0.5 * full, atol=1e-6)


def test_the_node_lifts_the_jaw_alone_and_only_in_speech(trained_tiny, models_dir):
    handle = _load(trained_tiny, models_dir)
    quiet = audio_features(100)
    features = speech_between_pauses()
    features = AudioFeatures(features=quiet.track, fps=FPS, kind=quiet.kind, waveform=features.samples.read(
        0, features.samples.length)[0], sample_rate=RATE)
    closed = replace(face(), landmarks=mesh(0.0))
    kwargs = dict(dit_model=handle, audio_features=features, seed=2, steps=6, sampler="ddim", phase_threshold=500,
                  guidance_scale=1.0, expression_scale=1.0)
    lifted = run_node("MoDiTSampleExpression", face=closed, **kwargs)[0].expression
    apart = run_node("MoDiTSampleExpression", face=replace(closed, landmarks=mesh(0.12)), **kwargs)[0].expression
    change = lifted - apart
    others = [k for k in range(change.shape[1]) if k != JAW_OPEN]
    assert not change[:, others].any(), "only the jaw moves"
    assert torch.allclose(change[:, JAW_OPEN], speech_opening.speech_lift(features, mesh(0.0)), atol=1e-5)


def test_a_lift_out_of_range_is_refused_naming_the_range(trained_tiny, models_dir):
    handle = _load(trained_tiny, models_dir)
    kwargs = dict(dit_model=handle, audio_features=audio_features(30), face=face(), seed=2, steps=6, sampler="ddim",
                  phase_threshold=500, guidance_scale=1.0, expression_scale=1.0)
    with pytest.raises(ValueError, match=r"speech_lift must be in 0\.\.0\.3.*got 0\.5"):
        run_node("MoDiTSampleExpression", speech_lift=0.5, **kwargs)


def test_a_mouth_caught_open_over_a_dark_interior_and_no_other_counts_as_caught_open():
    caught = speech_opening.caught_open
    assert caught(mesh(0.0), 0.0) == 0 and caught(mesh(0.10), 0.0) == 0, "lips together or slightly apart"
    assert caught(mesh(0.20), 0.0) == 1.0 and caught(mesh(0.20), 0.15) == 1.0, "wide open, dark (00002, 00015)"
    assert caught(mesh(0.20), 1.0) == 0 and caught(mesh(0.20), 0.89) == 0, "a smile, or a mouth full of teeth"
    assert caught(mesh(0.15), 0.0) == pytest.approx(0.5)
    shares = [caught(mesh(0.20), teeth) for teeth in (0.0, 0.3, 0.5, 0.7, 1.0)]
    assert shares == sorted(shares, reverse=True), shares


def test_the_node_closes_a_dark_open_mouth_on_its_own_and_leaves_a_smile(trained_tiny, models_dir, monkeypatch):
    """close_dark_mouth (default 0.5) samples a portrait caught open over a dark interior as close_parted_lips at
    that share would; with teeth showing (what the renderer finds: portrait_mouth) nothing changes; 0 turns it off;
    a higher close_parted_lips wins."""
    from types import SimpleNamespace

    from comfyui_modit.modit.face import expression as embedded
    from comfyui_modit.nodes import motion

    handle = _load(trained_tiny, models_dir)
    beta_0 = torch.zeros(12)
    beta_0[JAW_OPEN] = 0.8
    source = replace(face(), beta_0=beta_0, neutral_mesh=embedded.neutral_template(), landmarks=mesh(0.2))
    kwargs = dict(dit_model=handle, audio_features=audio_features(30), face=source, seed=4, steps=6, sampler="ddim",
                  phase_threshold=500, guidance_scale=1.0, expression_scale=1.0)

    def sampled(teeth: float, **widgets) -> torch.Tensor:
        monkeypatch.setattr(motion, "portrait_mouth", lambda f: SimpleNamespace(shows_teeth=teeth))
        return run_node("MoDiTSampleExpression", **kwargs, **widgets)[0].expression

    own = sampled(0.0, close_dark_mouth=0.0)
    half = sampled(0.0, close_parted_lips=0.5, close_dark_mouth=0.0)
    assert not torch.equal(own, half)
    assert torch.equal(sampled(0.0), half), "a dark open mouth: close_parted_lips 0.5 on its own"
    assert torch.equal(sampled(1.0), own), "teeth showing: the portrait's own mouth"
    assert torch.equal(sampled(0.0, close_parted_lips=1.0), sampled(0.0, close_parted_lips=1.0, close_dark_mouth=0.0))
    with pytest.raises(ValueError, match=r"close_dark_mouth must be in 0\.\.1.*got 2"):
        sampled(0.0, close_dark_mouth=2.0)
