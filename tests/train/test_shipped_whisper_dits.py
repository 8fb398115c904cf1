"""The bundled DiTs that hear Whisper (v4, the Load DiT default, and v3 before it; real speech, research use): each
declares its terms, its parent and how to rebuild it, needs the bundled Whisper encoder's features, keeps a source's
own expression on silence, and repeats with a seed. v4 also names the audio-visual offsets its clips were put back in
step by."""
import os

import pytest
import torch

from comfyui_modit.modit.audio.encoder import BUILTIN_WHISPER, WHISPER_MEL, AudioEncoder
from comfyui_modit.modit.checkpoints import bundled_path, load_checkpoint
from comfyui_modit.modit.dit.checkpoint import load_dit
from comfyui_modit.modit.dit.sampling import SamplingOptions, sample_expression
from comfyui_modit.modit.dit.schedule import NoiseSchedule
from comfyui_modit.modit.face.components import COMPONENT_NAMES, SPACE_NAME

from .test_shipped_v2 import assert_source_kept, strong_source

V3 = bundled_path("modit_embedded_v3_whisper.safetensors")
V3_NAME = "embedded v3 (real speech + Whisper, research use)"
V4 = bundled_path("modit_embedded_v4_synced.safetensors")
V4_NAME = "embedded v4 (real speech + Whisper, in sync, research use)"
WHISPER = bundled_path("whisper_base_encoder_l4.safetensors")
BOTH = pytest.mark.parametrize("path,name", [(V4, V4_NAME), (V3, V3_NAME)], ids=["v4", "v3"])


@BOTH
def test_file_declares_what_it_is(path, name):
    # the DiT and the encoder it needs fit the 40 MB the default may take, together
    assert os.path.getsize(path) + os.path.getsize(WHISPER) <= 40 * 2 ** 20
    model, info = load_dit(path)
    _, metadata = load_checkpoint(path)
    assert (info.space, info.feature_kind, info.fps, info.feature_dim) == (SPACE_NAME, WHISPER_MEL, 25.0, 832)
    assert model.config.relative_motion and model.config.audio_norm == "utterance"
    assert model.config.utterance_norm_columns == 320  # only the mel80 part is centred per utterance
    assert metadata["display_name"] == name and metadata["license"].startswith("research use only")
    assert metadata["inherited_from"]["file"] == "modit_embedded_v2_real.safetensors"
    assert metadata["inherited_from"]["corpus"]["utterances"] > 1000  # v2's eSpeak pre-training, carried along
    assert metadata["real_data"]["manifest"] == "modit/train/real/manifest" and metadata["real_data"]["clips"] > 40
    commands = metadata["training"]["commands"]
    assert commands[0].startswith("python -m modit_app data featurise") and "--init" in commands[-1]
    _, whisper_meta = load_checkpoint(WHISPER)
    assert "MIT" in whisper_meta["licence"] and whisper_meta["source"]["model_bin_sha256"].startswith("905e5bf8")
    for name, tensor in model.state_dict().items():
        assert torch.isfinite(tensor).all(), name


def test_v4_names_the_offsets_its_clips_were_corrected_by():
    from comfyui_modit.modit.data.featurise import read_offsets
    from comfyui_modit.modit.data.manifest import AV_OFFSETS

    _, metadata = load_checkpoint(V4)
    assert metadata["real_data"]["av_offsets_frames"] == read_offsets(AV_OFFSETS)
    assert any("--av-offsets modit/train/real/av_offsets" in c for c in metadata["training"]["commands"])


def test_v4_is_the_default_and_v3_v2_v1_stay_loadable():
    from comfyui_modit.nodes import NODES, node_info, run_node

    kind, options = node_info(NODES["MoDiTLoadDiT"])["input"]["required"]["checkpoint"]
    choices = options["options"]
    assert options["default"] == V4_NAME == choices[0]
    assert V3_NAME in choices and "embedded v2 (real speech, research use)" in choices
    assert "embedded (bundled)" in choices
    encoder = node_info(NODES["MoDiTLoadAudioEncoder"])["input"]["required"]["encoder"][1]
    assert encoder["default"] == BUILTIN_WHISPER  # a freshly added loader gives what the default DiT needs
    for name in (V4_NAME, V3_NAME):
        dit, = run_node("MoDiTLoadDiT", checkpoint=name, dtype="fp32")
        assert dit.info.feature_kind == WHISPER_MEL


def _silence(seconds: float = 3.0):
    audio = {"waveform": 1e-4 * torch.randn(1, 1, int(seconds * 16000), generator=torch.Generator().manual_seed(0)),
             "sample_rate": 16000}
    return AudioEncoder.load(BUILTIN_WHISPER, "fp32").encode(audio, fps=25.0).track


@BOTH
def test_keeps_a_non_zero_source_on_silence(path, name):
    model, info = load_dit(path)
    out = sample_expression(model.eval(), NoiseSchedule(info.schedule), _silence(), strong_source(),
                            SamplingOptions(num_steps=10, guidance_scale=2.5, seed=0))
    assert_source_kept(out)  # without the silence shards in training, jaw_open fell to 0.17 and corners_up to 0.34


@BOTH
def test_seed_repeats(path, name):
    model, info = load_dit(path)
    audio = _silence(2.4)
    run = lambda seed: sample_expression(model.eval(), NoiseSchedule(info.schedule), audio,  # noqa: E731
                                         torch.zeros(len(COMPONENT_NAMES)), SamplingOptions(num_steps=5, seed=seed))
    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))
