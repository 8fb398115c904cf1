"""Shared DiT fixtures: one tiny model trained for a few seconds on a synthetic corpus (session-wide)."""
import pytest
import torch

from .synthetic import write_shards


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory):
    """(model, info, path) of a 'tiny' DiT trained 400 steps on jaw-follows-the-audio data (~5 s on an idle CPU core)."""
    from comfyui_modit.modit.train.data import ShardDataset
    from comfyui_modit.modit.train.loop import TrainOptions, train

    root = tmp_path_factory.mktemp("dit")
    corpus = write_shards(root / "corpus", num_shards=2, utterances=6, lengths=(20, 60))
    path = str(root / "tiny.safetensors")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # session-scoped: set up before tests/conftest.py's one_thread
    try:
        model, info = train(ShardDataset(corpus), "tiny", path,
                            TrainOptions(steps=400, batch_size=16, learning_rate=3e-3, warmup_steps=20,
                                         log_every=1000))
    finally:
        torch.set_num_threads(threads)
    return model.eval(), info, path


