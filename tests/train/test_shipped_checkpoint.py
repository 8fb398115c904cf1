"""The bundled embedded DiT v1 (eSpeak only): loads, says what it is, stays selectable, and lip-syncs a generated
utterance. The v2 default is tested in test_shipped_v2.py."""
import os
import random

import numpy as np
import pytest
import torch

from comfyui_modit.modit.checkpoints import bundled_path, load_checkpoint
from comfyui_modit.modit.dit.checkpoint import load_dit
from comfyui_modit.modit.face.components import COMPONENT_NAMES, JAW_OPEN, SPACE_NAME
from comfyui_modit.modit.timing import frame_of_time

CHECKPOINT = bundled_path("modit_embedded_v1.safetensors")
PRESS = COMPONENT_NAMES.index("lips_press")


def test_shipped_checkpoint_matches_its_metadata():
    assert os.path.getsize(CHECKPOINT) <= 40 * 2 ** 20
    model, info = load_dit(CHECKPOINT)
    _, metadata = load_checkpoint(CHECKPOINT)
    assert (info.preset, info.space, info.feature_kind, info.fps) == ("embedded", SPACE_NAME, "mel80", 25.0)
    assert info.feature_dim == model.config.feature_dim == 320 and model.config.expression_dim == len(COMPONENT_NAMES)
    assert info.num_train_steps > 0
    corpus, training = metadata["corpus"], metadata["training"]
    assert f"--seed {corpus['seed']}" in corpus["command"] and corpus["utterances"] > 1000
    assert training["command"].startswith("python -m modit.train ") and "--preset embedded" in training["command"]
    assert training["checkpoint_step"] == info.num_train_steps
    for report in metadata["evaluation"].values():  # held-out voices (modit/train/evaluate.py)
        assert report["all"]["lag"] == 0 and report["all"]["r"] >= 0.8
    for name, tensor in model.state_dict().items():
        assert torch.isfinite(tensor).all(), name


def test_load_dit_still_offers_v1_by_its_saved_name():
    from comfyui_modit.nodes import NODES, node_info, run_node

    checkpoint = node_info(NODES["MoDiTLoadDiT"])["input"]["required"]["checkpoint"]
    assert "embedded (bundled)" in checkpoint[1]["options"]  # workflows saved before v2 keep working (v2: default)
    handle, = run_node("MoDiTLoadDiT", checkpoint="embedded (bundled)", dtype="fp32")
    assert handle.info.feature_kind == "mel80" and handle.info.space == SPACE_NAME


def _middle(phoneme):
    return frame_of_time(0.5 * (phoneme.start + phoneme.end), 25)


def test_mouth_opens_on_vowels_and_closes_on_silence_and_bilabials():
    pytest.importorskip("espeakng_loader", reason="generating the test utterance needs espeak-ng")
    from comfyui_modit.modit.dit.sampling import SamplingOptions, sample_expression
    from comfyui_modit.modit.dit.schedule import NoiseSchedule
    from comfyui_modit.modit.train.corpus import generate
    from comfyui_modit.modit.train.corpus.visemes import strip_stress, visemes_of

    # A voice the corpus never uses (modit/train/evaluate.py holds it out).
    example = generate.render_example("Papa, mama.", generate.Voice("en-us+f4", 130, 50, 50, 0), random.Random(0),
                                      augment=False, lead=0.6, tail=0.5, vary=False)
    model, info = load_dit(CHECKPOINT)
    features = generate.audio_features(example.waveform)
    _, metadata = load_checkpoint(CHECKPOINT)
    options = SamplingOptions(guidance_scale=metadata["recommended_sampling"]["guidance_scale"])
    expression = sample_expression(model, NoiseSchedule(info.schedule), features,
                                   torch.zeros(model.config.expression_dim), options)  # [T, K]
    jaw, press = expression[:, JAW_OPEN].numpy(), expression[:, PRESS].numpy()
    vowels = [_middle(p) for p in example.phonemes if p.name.startswith("'") and visemes_of(p.name) == ("AA",)]
    closures = [_middle(p) for p in example.phonemes if strip_stress(p.name) in ("p", "b", "m")]
    speech = frame_of_time(example.phonemes[0].start, 25), frame_of_time(example.phonemes[-1].end, 25)
    silence = np.concatenate([jaw[: speech[0] - 4], jaw[speech[1] + 4:]])
    assert len(vowels) == 2 and len(closures) == 4 and silence.size >= 10
    open_jaw = min(jaw[f] for f in vowels)
    assert open_jaw > 0.25, f"jaw_open on the 'a' of papa/mama: {[round(float(jaw[f]), 2) for f in vowels]}"
    assert np.abs(silence).max() < 0.1, f"jaw_open in silence: {np.round(silence, 2)}"
    for frame in closures:  # the lips meet: the jaw rises well above its vowel opening and the lips press
        assert jaw[frame] < 0.5 * open_jaw, f"jaw_open {jaw[frame]:.2f} at a bilabial (vowels {open_jaw:.2f})"
        assert press[frame] > 0.2, f"lips_press {press[frame]:.2f} at a bilabial"
