"""modit.data extraction on clips made by the test: frame timing, the recovered jaw curve, gates, resume."""
import json
import os
import shutil

import numpy as np
import pytest
import torch

from comfyui_modit.modit.checkpoints import load_checkpoint
from comfyui_modit.modit.data import gates
from comfyui_modit.modit.data.extract import extract_clip
from comfyui_modit.modit.face.components import JAW_OPEN, NUM_COMPONENTS
from comfyui_modit.modit.train.data import ShardDataset

from .conftest import FPS, FRAMES, jaw_curve, noise_audio, silent_audio, write_clip

PROVENANCE = {"repo": "test/repo", "path": "clips/talking.mp4", "commit": "0" * 12, "speaker": "portrait",
              "split": "train"}


def _extract(clip, out, **kwargs):
    return extract_clip(clip, str(out), FPS, dict(PROVENANCE), min_seconds=kwargs.pop("min_seconds", 1.0), **kwargs)


@pytest.fixture(scope="module")
def extracted(talking_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    report = _extract(talking_clip, out)
    return out, report


def test_shard_has_the_training_format_one_row_per_frame(extracted):
    out, report = extracted
    assert report["frames"] == FRAMES and report["kept_frames"] == FRAMES and report["utterances"] == 1
    tensors, metadata = load_checkpoint(os.path.join(out, "talking.safetensors"))
    assert {k: metadata[k] for k in ("feature_kind", "feature_dim", "fps", "space")} == \
        {"feature_kind": "mel80", "feature_dim": 320, "fps": 25, "space": "embedded-v1"}
    assert metadata["speaker"] == "portrait" and metadata["repo"] == "test/repo" and "research" in metadata["terms"]
    assert tuple(tensors["features"].shape) == (FRAMES, 320)
    assert tuple(tensors["expression"].shape) == (FRAMES, NUM_COMPONENTS)
    assert tuple(tensors["pose"].shape) == (FRAMES, 6) and tuple(tensors["eyes"].shape) == (FRAMES, 2)
    assert float(tensors["head_rotation"].abs().max()) < 0.3, "a near-frontal portrait"
    assert tensors["frame_index"].tolist() == list(range(FRAMES))
    assert int(tensors["lengths"].sum()) == FRAMES
    # beta_0 is a real frame of the speaker: the utterance's first kept frame.
    assert torch.equal(tensors["beta_0"][0], tensors["expression"][0])
    assert float(tensors["pose"].abs().max()) < 0.05, "the rendered head does not move"
    assert float(tensors["eyes"].min()) > 0.5, "the eyes stay open"
    dataset = ShardDataset(str(out))  # the trainer reads it as is
    assert dataset.features.shape[0] == FRAMES


def test_recovered_jaw_follows_the_driving_curve(extracted):
    out, _ = extracted
    tensors, _ = load_checkpoint(os.path.join(out, "talking.safetensors"))
    jaw = tensors["expression"][:, JAW_OPEN].numpy()
    driving = jaw_curve()
    r = np.corrcoef(jaw, driving)[0, 1]
    assert r > 0.9, f"jaw_open recovered from the frames correlates r={r:.2f} with the curve that drove them"
    assert np.corrcoef(tensors["mouth_open"].numpy(), driving)[0, 1] > 0.9


def test_finished_clip_is_skipped_on_resume(extracted, talking_clip):
    out, _ = extracted
    before = os.path.getmtime(os.path.join(out, "talking.safetensors"))
    report = _extract(talking_clip, out)
    assert report.get("skipped") is True
    assert os.path.getmtime(os.path.join(out, "talking.safetensors")) == before


def test_unfinished_clip_is_redone(extracted, talking_clip, tmp_path):
    out, _ = extracted
    for name in ("talking.safetensors", "meshes"):
        source = os.path.join(out, name)
        (shutil.copytree if os.path.isdir(source) else shutil.copy)(source, tmp_path / name)
    report = _extract(talking_clip, tmp_path)  # a shard without its report: not finished
    assert not report.get("skipped") and report["kept_frames"] == FRAMES
    assert os.path.isfile(tmp_path / "talking.json")


def test_clip_without_sound_is_gated(driven_frames, tmp_path):
    clip = write_clip(tmp_path / "mute.mp4", driven_frames[:30])
    report = _extract(clip, tmp_path / "out")
    assert report["clip_gate"] == "no_audio" and report["kept_frames"] == 0
    assert not os.path.exists(tmp_path / "out" / "mute.safetensors")
    with open(tmp_path / "out" / "mute.json") as f:
        assert json.load(f)["clip_gate"] == "no_audio"


def test_silent_clip_is_gated(driven_frames, tmp_path):
    clip = write_clip(tmp_path / "quiet.mp4", driven_frames, audio=silent_audio(FRAMES / FPS))
    report = _extract(clip, tmp_path / "out")
    assert report["kept_frames"] == 0 and report["segment_gates"]["silent"] == FRAMES


def test_paired_wav_wins_over_the_track(driven_frames, tmp_path):
    import soundfile

    clip = write_clip(tmp_path / "paired.mp4", driven_frames, audio=silent_audio(FRAMES / FPS))
    audio = noise_audio(FRAMES / FPS)
    soundfile.write(tmp_path / "paired.wav", audio["waveform"][0, 0].numpy(), audio["sample_rate"])
    report = _extract(clip, tmp_path / "out")
    assert report["audio_source"] == "paired wav paired.wav" and report["kept_frames"] == FRAMES


def test_hard_cut_splits_the_clip(driven_frames, tmp_path):
    import torch.nn.functional as F

    # Second shot: the same face, zoomed in 1.5x and off centre (a camera change).
    frames = driven_frames[:FRAMES]
    S = frames.shape[1]
    zoomed = F.interpolate(frames.permute(0, 3, 1, 2), scale_factor=1.5, mode="bilinear", align_corners=False)
    zoomed = zoomed[:, :, S // 8:S // 8 + S, S // 5:S // 5 + S].permute(0, 2, 3, 1)
    cut = torch.cat([frames[:40], zoomed[40:]])
    clip = write_clip(tmp_path / "cut.mp4", cut, audio=noise_audio(FRAMES / FPS))
    report = _extract(clip, tmp_path / "out")
    assert report["frame_gates"]["shot_cut"] >= 1
    assert report["utterances"] == 2, report["segments"]
    tensors, _ = load_checkpoint(os.path.join(tmp_path, "out", "cut.safetensors"))
    assert float(tensors["pose"][40:].abs().max()) < 0.2, "pose restarts from each utterance's first frame"


def test_30_fps_source_is_resampled_to_25(driven_frames, tmp_path):
    clip = write_clip(tmp_path / "thirty.mp4", driven_frames[:60], fps=30, audio=noise_audio(2.0))
    report = _extract(clip, tmp_path / "out")
    assert report["frames"] == 50  # 2 s at 25 fps
    tensors, metadata = load_checkpoint(os.path.join(tmp_path, "out", "thirty.safetensors"))
    assert metadata["fps"] == 25
    source = tensors["source_frame"].numpy()
    assert source[0] == 0 and np.all(np.diff(source) >= 1) and source[-1] <= 59
    assert np.abs(source - np.round(np.arange(50) * 30 / 25)).max() <= 1


def test_short_segments_are_gated():
    reasons = [None] * 30 + ["yaw"] + [None] * 60
    level = np.zeros(91)
    found = gates.segments(reasons, level, fps=25, min_seconds=2.0)
    assert [(s.start, s.stop, s.reason) for s in found] == [(0, 30, "short_segment"), (31, 91, None)]
