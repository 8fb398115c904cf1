"""The bundled DiTs that hear Whisper (v5, the Load DiT default, and v4 and v3 before it; real speech, research use):
each declares its terms, its parent and how to rebuild it, needs the bundled Whisper encoder's features, keeps a
source's own expression on silence (sampled as the node samples, without the starting noise's slow part, and as the
paper does), and repeats with a seed. v5 and v4 also name the audio-visual offsets their clips were put back in step
by."""
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
V5 = bundled_path("modit_embedded_v5_more.safetensors")
V5_NAME = "embedded v5 (real speech + Whisper, 43 speakers, research use)"
WHISPER = bundled_path("whisper_base_encoder_l4.safetensors")
EACH = pytest.mark.parametrize("path,name", [(V5, V5_NAME), (V4, V4_NAME), (V3, V3_NAME)], ids=["v5", "v4", "v3"])


@EACH
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
    assert commands[0].startswith("python -m modit_app data ") and "--init" in commands[-1]
    assert any(c.startswith("python -m modit_app data featurise") for c in commands)
    _, whisper_meta = load_checkpoint(WHISPER)
    assert "MIT" in whisper_meta["licence"] and whisper_meta["source"]["model_bin_sha256"].startswith("905e5bf8")
    for name, tensor in model.state_dict().items():
        assert torch.isfinite(tensor).all(), name


def test_v4_and_v5_name_the_offsets_their_clips_were_corrected_by():
    from comfyui_modit.modit.data.featurise import read_offsets
    from comfyui_modit.modit.data.manifest import AV_OFFSETS, AV_OFFSETS_MORE

    _, metadata = load_checkpoint(V4)
    assert metadata["real_data"]["av_offsets_frames"] == read_offsets(AV_OFFSETS)
    assert any("--av-offsets modit/train/real/av_offsets" in c for c in metadata["training"]["commands"])
    _, metadata = load_checkpoint(V5)
    assert metadata["real_data"]["av_offsets_frames"] == {**read_offsets(AV_OFFSETS), **read_offsets(AV_OFFSETS_MORE)}
    assert any("--av-offsets modit/train/real/av_offsets modit/train/real/av_offsets_more" in c
               for c in metadata["training"]["commands"])


def test_v5_names_its_extra_clips_and_their_terms():
    """v5 learned from manifest_more's clips too: the file lists both manifests, their speakers, and GRID's licence
    beside the research-use footage."""
    from comfyui_modit.modit.data import manifest

    _, metadata = load_checkpoint(V5)
    real = metadata["real_data"]
    assert real["manifests"] == ["modit/train/real/manifest", "modit/train/real/manifest_more"]
    assert real["speakers"] == 43 and real["minutes"] > 17
    assert all(os.path.isfile(os.path.join(os.path.dirname(manifest.MANIFEST), os.path.basename(m)))
               for m in real["manifests"])
    assert "GRID" in metadata["license"] and "CC BY 4.0" in metadata["license"] and "DFDC" in metadata["license"]
    assert any("--manifest modit/train/real/manifest_more" in c for c in metadata["training"]["commands"])


def test_v5_is_the_default_and_v4_v3_v2_v1_stay_loadable():
    from comfyui_modit.nodes import NODES, node_info, run_node

    kind, options = node_info(NODES["MoDiTLoadDiT"])["input"]["required"]["checkpoint"]
    choices = options["options"]
    assert options["default"] == V5_NAME == choices[0]
    assert V4_NAME in choices and V3_NAME in choices and "embedded v2 (real speech, research use)" in choices
    assert "embedded (bundled)" in choices
    encoder = node_info(NODES["MoDiTLoadAudioEncoder"])["input"]["required"]["encoder"][1]
    assert encoder["default"] == BUILTIN_WHISPER  # a freshly added loader gives what the default DiT needs
    for name in (V5_NAME, V4_NAME, V3_NAME):
        dit, = run_node("MoDiTLoadDiT", checkpoint=name, dtype="fp32")
        assert dit.info.feature_kind == WHISPER_MEL


def _silence(seconds: float = 3.0):
    audio = {"waveform": 1e-4 * torch.randn(1, 1, int(seconds * 16000), generator=torch.Generator().manual_seed(0)),
             "sample_rate": 16000}
    return AudioEncoder.load(BUILTIN_WHISPER, "fp32").encode(audio, fps=25.0).track


@EACH
def test_keeps_a_non_zero_source_on_silence(path, name):
    model, info = load_dit(path)
    for slow_noise in (0.0, 1.0):  # the node's default, the paper's white noise
        out = sample_expression(model.eval(), NoiseSchedule(info.schedule), _silence(), strong_source(),
                                SamplingOptions(num_steps=10, guidance_scale=2.5, seed=0, slow_noise=slow_noise))
        assert_source_kept(out)  # without the silence shards in training, jaw_open fell to 0.17 and corners_up to 0.34


@EACH
def test_seed_repeats(path, name):
    model, info = load_dit(path)
    audio = _silence(2.4)
    run = lambda seed: sample_expression(model.eval(), NoiseSchedule(info.schedule), audio,  # noqa: E731
                                         torch.zeros(len(COMPONENT_NAMES)), SamplingOptions(num_steps=5, seed=seed))
    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))
