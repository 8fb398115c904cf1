"""modit.data.silence: silent utterances whose expression stays at a real source's (issue 14, v3's recipe)."""
import torch

from comfyui_modit.modit.audio.encoder import AudioEncoder
from comfyui_modit.modit.audio.normalization import SPEECH_RANGE
from comfyui_modit.modit.checkpoints import load_checkpoint
from comfyui_modit.modit.data.silence import write_silence_shard
from comfyui_modit.modit.train.data import ShardDataset

from .test_real_mix import write_sources_shard


def test_silence_shard_holds_real_sources_still_over_silent_audio(tmp_path):
    like = write_sources_shard(tmp_path / "real", utterances=6)
    out = str(tmp_path / "silence" / "silence.safetensors")
    summary = write_silence_shard(like, out, AudioEncoder.builtin_mel(), count=5, seconds=1.0, seed=3)
    assert summary == {"utterances": 5, "frames": 125}
    tensors, metadata = load_checkpoint(out)
    real, _ = load_checkpoint(str(tmp_path / "real" / "real.safetensors"))
    assert metadata["feature_kind"] == "mel80" and metadata["feature_dim"] == 320
    frames = tensors["expression"].view(5, 25, -1)
    assert torch.equal(frames, tensors["beta_0"][:, None].expand_as(frames))  # the face never moves
    for source in tensors["beta_0"]:  # each source is a real frame of the real shard, not an invented face
        assert (real["expression"] == source).all(1).any()
    # the audio is silence by the pack's own test (normalization.py): no utterance's frame level spans SPEECH_RANGE
    level = tensors["features"].mean(1).view(5, 25)
    assert (level.quantile(0.95, dim=1) - level.quantile(0.05, dim=1)).max() < SPEECH_RANGE
    assert len(ShardDataset(str(tmp_path / "silence")).lengths) == 5
