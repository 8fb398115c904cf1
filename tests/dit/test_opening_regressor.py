"""The opening prior: a regressor's mouth opening blended into the slow part of the DiT's, and nothing else."""
import logging

import pytest
import torch

from comfyui_modit.modit.dit import opening_regressor as prior
from comfyui_modit.modit.dit.handle import DiTHandle
from comfyui_modit.modit.face.components import JAW_OPEN, NUM_COMPONENTS
from comfyui_modit.modit.train.opening import train_regressor

from .synthetic import audio_features

DIM = prior.MEL_COLUMNS + 16  # a narrow stand-in for Whisper's 512 columns


def curves(T=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T, dtype=torch.float32)
    sampled = torch.sin(t / 9) + 0.3 * torch.randn(T, generator=g)  # slow course + quick articulation
    predicted = 5 + 2 * torch.sin(t / 9 + 0.6) + 0.05 * torch.randn(T, generator=g)  # other units, other phase
    return sampled, predicted


def test_share_zero_changes_nothing_and_any_share_adds_only_a_slow_change():
    """The DiT's quick articulation stays: what the blend adds is far smoother than the sampled mouth."""
    sampled, predicted = curves()
    assert torch.equal(prior.blend_slow_opening(sampled, predicted, 0.0), sampled)
    roughness = lambda x: float(torch.diff(x, n=2).abs().mean())  # noqa: E731
    for share in (0.25, 0.5, 1.0):
        change = prior.blend_slow_opening(sampled, predicted, share) - sampled
        assert change.abs().max() > 0.05
        assert roughness(change) < 0.25 * roughness(sampled)  # 0.16 at share 1 on these curves


def test_the_slow_part_moves_toward_the_prediction_in_the_sampled_units():
    sampled, predicted = curves()
    slow, target = prior.gaussian_smooth(sampled, 1.0), prior.gaussian_smooth(predicted, 1.0)
    full = prior.blend_slow_opening(sampled, predicted, 1.0)
    moved = prior.gaussian_smooth(full, 1.0)
    assert torch.corrcoef(torch.stack([moved, target]))[0, 1] > 0.99  # its course is the prediction's...
    assert abs(float(full.mean() - sampled.mean())) < 1e-4  # ...at the sampled mouth's level and spread
    assert abs(float(moved.std() / slow.std()) - 1) < 0.1
    half = prior.blend_slow_opening(sampled, predicted, 0.5)
    r = lambda x: float(torch.corrcoef(torch.stack([prior.gaussian_smooth(x, 1.0), target]))[0, 1])  # noqa: E731
    assert r(sampled) < r(half) < r(full)
    with pytest.raises(ValueError, match="0..1"):
        prior.blend_slow_opening(sampled, predicted, 1.5)


def test_a_mouth_at_rest_stays_at_rest_whatever_the_prediction():
    """Silence: the DiT holds the portrait's mouth; matched to a still slow part, the prediction moves nothing."""
    _, predicted = curves()
    still = torch.full_like(predicted, 0.27)
    assert torch.allclose(prior.blend_slow_opening(still, predicted, 1.0), still, atol=1e-6)


def test_only_the_jaw_carries_the_change_and_the_opening_is_the_blended_one():
    sampled, predicted = curves()
    expression = torch.randn(len(sampled), NUM_COMPONENTS, generator=torch.Generator().manual_seed(1)) * 0.1
    expression[:, JAW_OPEN] = sampled
    opening_map = torch.linspace(-0.1, 0.2, NUM_COMPONENTS)
    opening_map[JAW_OPEN] = 0.3
    out = prior.with_opening_prior(expression, predicted, opening_map, 0.5, JAW_OPEN)
    others = [k for k in range(NUM_COMPONENTS) if k != JAW_OPEN]
    assert torch.equal(out[:, others], expression[:, others])
    expected = prior.blend_slow_opening(expression @ opening_map, predicted, 0.5)
    assert torch.allclose(out @ opening_map, expected, atol=1e-5)
    with pytest.raises(ValueError, match="jaw channel weight"):
        prior.with_opening_prior(expression, predicted, -opening_map, 0.5, JAW_OPEN)


def random_regressor(members=2):
    torch.manual_seed(0)
    model = prior.OpeningRegressor(DIM, NUM_COMPONENTS, members).eval()
    model.opening_map[JAW_OPEN] = 0.3
    return model


def test_a_long_track_is_read_window_by_window_with_no_seam():
    model = random_regressor()
    features = torch.randn(2 * prior.WINDOW + 77, DIM, generator=torch.Generator().manual_seed(2))
    windowed = model.predict(features)
    centre = prior.utterance_centre(features, prior.MEL_COLUMNS)
    with torch.no_grad():
        whole = model(model.units(features, centre)[None])[0]
    assert windowed.shape == (features.shape[0],)
    assert torch.allclose(windowed, whole, atol=1e-5)


def test_weights_round_trip_and_a_foreign_file_is_named(tmp_path):
    model = random_regressor()
    path = str(tmp_path / "opening.safetensors")
    prior.save_regressor(path, model, {"license": "test"})
    loaded = prior.load_regressor(path)
    x = torch.randn(40, DIM)
    assert torch.allclose(loaded.predict(x), model.predict(x), atol=1e-6)
    assert torch.equal(loaded.opening_map, model.opening_map) and loaded.metadata["license"] == "test"
    from comfyui_modit.modit.checkpoints import save_checkpoint

    save_checkpoint(str(tmp_path / "other.safetensors"), {"w": torch.zeros(3)}, {"kind": "hubert"})
    with pytest.raises(ValueError, match="'hubert' features"):
        prior.load_regressor(str(tmp_path / "other.safetensors"))


def test_training_learns_an_opening_that_follows_the_speech():
    g = torch.Generator().manual_seed(3)
    utterances = []
    for _ in range(6):
        T = 400
        envelope = (0.5 + 0.5 * torch.sin(torch.arange(T) / (3 + 2 * torch.rand(1, generator=g)))).float()
        features = torch.randn(T, DIM, generator=g)
        features[:, 7] += 3 * envelope  # one mel column carries the "speech"
        expression = torch.zeros(T, NUM_COMPONENTS)
        expression[:, JAW_OPEN] = envelope
        utterances.append({"clip": "c", "features": features, "mouth": 0.02 + 0.1 * envelope,
                           "expression": expression})
    model = train_regressor(utterances, members=1, epochs=40)
    r = torch.corrcoef(torch.stack([model.predict(utterances[0]["features"]), utterances[0]["mouth"]]))[0, 1]
    assert r > 0.8
    assert abs(float(model.opening_map[JAW_OPEN]) - 0.1) < 0.01  # mouth = 0.02 + 0.1 jaw, read back


def test_the_handle_blends_whisper_features_and_leaves_others_alone(models_dir, caplog):
    T = 120
    expression = torch.randn(T, NUM_COMPONENTS, generator=torch.Generator().manual_seed(4))
    mel = audio_features(T)
    with caplog.at_level(logging.INFO):
        assert torch.equal(DiTHandle._with_opening_prior(expression, mel, 0.5), expression)
    assert "DiT's mouth is used alone" in caplog.text
    whisper = audio_features(T, kind=prior.FEATURE_KIND, dim=DIM)
    prior.save_regressor(str(models_dir / "modit" / prior.WEIGHTS_FILE), random_regressor())
    out = DiTHandle._with_opening_prior(expression, whisper, 0.5)
    others = [k for k in range(NUM_COMPONENTS) if k != JAW_OPEN]
    assert torch.equal(out[:, others], expression[:, others])
    assert not torch.allclose(out[:, JAW_OPEN], expression[:, JAW_OPEN])
