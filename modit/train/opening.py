"""Training of the mouth-opening regressor (modit/dit/opening_regressor.py) on real shards.

Each member learns, by squared error, the measured mouth opening of every train utterance z-scored within that
utterance (speakers open their mouths by different amounts; only the course over time is learned), from windows of
WINDOW frames drawn in proportion to the utterances' lengths. The recipe is the ceiling bench's conv_ctx7
(bench/lipsync_ceiling.py), whose r on the val shards the README quotes; each member has its own seed.
"""
import logging
import os

import numpy as np
import torch

from ..audio.normalization import utterance_centre
from ..checkpoints import load_checkpoint
from ..dit.opening_regressor import MEL_COLUMNS, OpeningRegressor

log = logging.getLogger(__name__)

WINDOW = 64  # frames per training window
BATCH = 16


def load_shard_utterances(folder: str, min_frames: int = 25) -> list[dict]:
    """[{clip, features [T, D] raw, mouth [T]}] of every utterance of at least min_frames in a shards folder."""
    rows = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".safetensors"):
            continue
        tensors, _ = load_checkpoint(os.path.join(folder, name))
        start = 0
        for n in tensors["lengths"].long().tolist():
            span = slice(start, start + n)
            start += n
            if n >= min_frames:
                rows.append({"clip": name[:-len(".safetensors")], "features": tensors["features"][span].float(),
                             "mouth": tensors["mouth_open"][span].float(),
                             "expression": tensors["expression"][span].float()})
    if not rows:
        raise ValueError(f"{folder}: no shard utterances (.safetensors with features, mouth_open, lengths); build "
                         f"them with python -m modit_app data build, then data featurise")
    return rows


def network_inputs(model: OpeningRegressor, utterances: list[dict]) -> list[torch.Tensor]:
    """Each utterance's features as the network reads them (mel centred per utterance, the rest standardised)."""
    return [model.units(u["features"], utterance_centre(u["features"], MEL_COLUMNS)) for u in utterances]


def fit_opening_map(model: OpeningRegressor, utterances: list[dict]) -> None:
    """Set the model's opening_map: least squares, measured opening ~ tracked expression @ map + constant."""
    X = torch.cat([u["expression"] for u in utterances]).double()
    y = torch.cat([u["mouth"] for u in utterances]).double()
    A = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype)], 1)
    coefficients = torch.linalg.lstsq(A, y[:, None], driver="gelsd").solution[:-1, 0]  # SVD: unused channels get 0
    model.opening_map.copy_(coefficients.float())


def fit_standardisation(model: OpeningRegressor, utterances: list[dict]) -> None:
    """Set the model's rest_mean / rest_std to the train utterances' Whisper columns' statistics."""
    rest = torch.cat([u["features"][:, MEL_COLUMNS:] for u in utterances])
    model.rest_mean.copy_(rest.mean(0))
    model.rest_std.copy_(rest.std(0).clamp_min(1e-3))


def train_member(member: torch.nn.Module, inputs: list[torch.Tensor], targets: list[torch.Tensor], seed: int,
                 epochs: int = 10) -> None:
    """One ensemble member, in place: AdamW (lr 2e-3, weight decay 1e-2), windows drawn by utterance length."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimiser = torch.optim.AdamW(member.parameters(), lr=2e-3, weight_decay=1e-2)
    lengths = np.array([len(y) for y in targets], float)
    steps = max(1, int(lengths.sum()) // (WINDOW * BATCH))
    member.train()
    for _ in range(epochs):
        for _ in range(steps):
            xs, ys = [], []
            for i in rng.choice(len(targets), BATCH, p=lengths / lengths.sum()):
                x, y = inputs[i], targets[i]
                s = int(rng.integers(0, max(1, len(y) - WINDOW + 1)))
                xw, yw = x[s:s + WINDOW], y[s:s + WINDOW]
                pad = WINDOW - len(yw)
                if pad:  # a short utterance: its last frame held
                    xw, yw = torch.cat([xw, xw[-1:].expand(pad, -1)]), torch.cat([yw, yw[-1:].expand(pad)])
                xs.append(xw)
                ys.append(yw)
            loss = ((member(torch.stack(xs)) - torch.stack(ys)) ** 2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    member.eval()


def train_regressor(utterances: list[dict], members: int = 4, epochs: int = 10,
                    first_seed: int = 0) -> OpeningRegressor:
    """An OpeningRegressor trained on shard utterances (load_shard_utterances), member k with seed first_seed + k."""
    torch.manual_seed(first_seed)  # the members' initial weights
    model = OpeningRegressor(utterances[0]["features"].shape[1], utterances[0]["expression"].shape[1], members)
    fit_standardisation(model, utterances)
    fit_opening_map(model, utterances)
    inputs = network_inputs(model, utterances)
    targets = [(u["mouth"] - u["mouth"].mean()) / u["mouth"].std().clamp_min(1e-6) for u in utterances]
    for k, member in enumerate(model.members):
        train_member(member, inputs, targets, first_seed + k, epochs)
        log.info("opening regressor: member %d of %d trained", k + 1, members)
    return model.eval()
