"""A mouth-opening regressor on the audio features, blended into the slow part of the DiT's sampled mouth.

The DiT samples a plausible mouth for the speech, as crisp as real mouths, but on speakers it never heard it follows
the words less closely than a plain supervised regressor on the same features does (modit/train/README.md, "A
supervised mouth-opening predictor blended in": r 0.58 against 0.53, best of +-1, on the val shards). The regressor's
curve is smooth (trained on a squared error, it predicts the average mouth), so it cannot replace the DiT's. Only the
slow part (a Gaussian of SLOW_SIGMA frames) of the sampled mouth opening, read out of the expression by the linear
`opening_map` fitted on the same clips, is moved `share` of the way to the regressor's, matched to its mean and spread
over the recording; the difference goes to the jaw. The DiT's quick part, its crispness, is kept.

The network: a few 1-D convolutions over +-CONTEXT frames of [mel80 centred per recording | Whisper block 4
standardised with its training statistics] -> the opening (z-scored units), the mean of an ensemble of members
trained from different seeds. It reads a FeatureTrack window by window, so a long recording is never held whole.
"""
import logging
import os

import torch
import torch.nn.functional as F
from torch import nn

from .. import comfy_adapter
from ..audio.normalization import utterance_centre
from ..checkpoints import LoadedOnce, user_or_bundled

log = logging.getLogger(__name__)

FEATURE_KIND = "mel80+whisper4"  # [mel80 (MEL_COLUMNS) | Whisper base block 4 (512)] per frame
MEL_COLUMNS = 320  # centred per recording, as the DiT centres them
CONTEXT = 7  # frames either side that one output sees
WIDTH = 64
WINDOW = 512  # frames per forward pass when reading a long track
SLOW_SIGMA = 1.0  # frames at 25 fps: the Gaussian that splits the DiT's jaw into its slow and quick parts
WEIGHTS_FILE = "opening_regressor_real.safetensors"  # models/modit/ (a user's own) or modit/weights/ (bundled)


class ConvOpening(nn.Module):
    """Features [B, T, D] -> opening [B, T]: 'same'-padded convolutions reaching +-context frames."""

    def __init__(self, dim: int, context: int = CONTEXT, width: int = WIDTH, dropout: float = 0.2):
        super().__init__()
        layers, reach, channels = [], 0, dim
        while reach < context:
            k = min(3, context - reach)
            layers += [nn.Conv1d(channels, width, 2 * k + 1, padding=k), nn.GELU(), nn.Dropout(dropout)]
            reach, channels = reach + k, width
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv1d(channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.transpose(1, 2))).squeeze(1)


class OpeningRegressor(nn.Module):
    """An ensemble of ConvOpening members, with the standardisation of the features' Whisper columns."""

    def __init__(self, dim: int, expression_dim: int = 12, members: int = 4, context: int = CONTEXT,
                 width: int = WIDTH):
        super().__init__()
        if dim <= MEL_COLUMNS:
            raise ValueError(f"opening regressor: expected {FEATURE_KIND!r} features wider than {MEL_COLUMNS}, "
                             f"got {dim}")
        self.context = context
        self.members = nn.ModuleList(ConvOpening(dim, context, width) for _ in range(members))
        self.register_buffer("rest_mean", torch.zeros(dim - MEL_COLUMNS))
        self.register_buffer("rest_std", torch.ones(dim - MEL_COLUMNS))
        self.register_buffer("opening_map", torch.zeros(expression_dim))  # expression [K] -> measured opening

    @property
    def dim(self) -> int:
        return MEL_COLUMNS + self.rest_mean.numel()

    def units(self, features: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        """Raw features [T, D] (a window of one recording whose utterance_centre is `centre`) -> network input."""
        mel = features[:, :MEL_COLUMNS] - centre[:MEL_COLUMNS]
        return torch.cat([mel, (features[:, MEL_COLUMNS:] - self.rest_mean) / self.rest_std], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Network input [B, T, D] -> the ensemble's mean opening [B, T]."""
        return torch.stack([m(x) for m in self.members]).mean(0)

    @torch.no_grad()
    def predict(self, track) -> torch.Tensor:
        """The opening [T] float32 (z-scored units) for a recording's raw features [T, D] (tensor or FeatureTrack),
        read WINDOW frames at a time with `context` frames of overlap either side."""
        T = track.shape[0]
        if track.shape[1] != self.dim:
            raise ValueError(f"opening regressor: trained on features of width {self.dim}, got {track.shape[1]}")
        parameter = next(self.parameters())
        centre = utterance_centre(track, MEL_COLUMNS).to(parameter.device, torch.float32)
        out = torch.zeros(T)
        reach = self.context
        for start in range(0, T, WINDOW):
            comfy_adapter.check_interrupt()  # a lazy track encodes its speech again: minutes of audio take seconds
            end = min(start + WINDOW, T)
            first, last = max(start - reach, 0), min(end + reach, T)
            x = self.units(track[first:last].float().to(parameter.device), centre)
            y = self(x[None].to(parameter.dtype))[0].float().cpu()
            out[start:end] = y[start - first:start - first + end - start]
        return out


def gaussian_smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """[T] smoothed by a Gaussian of sigma frames, edges held (no pull toward zero at either end)."""
    if sigma <= 0 or x.numel() < 2:
        return x.clone()
    radius = max(1, int(4 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(torch.float32)
    padded = F.pad(x.float()[None, None], (radius, radius), mode="replicate")
    return F.conv1d(padded, kernel[None, None])[0, 0]


def blend_slow_opening(opening: torch.Tensor, predicted: torch.Tensor, share: float,
                       sigma: float = SLOW_SIGMA) -> torch.Tensor:
    """The sampled opening [T] with its slow part moved `share` (0..1) of the way to the predicted opening's [T], the
    latter matched to the sampled slow part's mean and spread over the recording. share 0 returns it unchanged."""
    if not 0 <= share <= 1:
        raise ValueError(f"opening prior share must be in 0..1, got {share}")
    if share == 0 or opening.numel() < 2:
        return opening.clone()
    slow = gaussian_smooth(opening, sigma)
    target = gaussian_smooth(predicted.to(opening), sigma)
    target = (target - target.mean()) / target.std().clamp_min(1e-6) * slow.std() + slow.mean()
    return opening + share * (target - slow)


def with_opening_prior(expression: torch.Tensor, predicted: torch.Tensor, opening_map: torch.Tensor, share: float,
                       jaw: int, sigma: float = SLOW_SIGMA) -> torch.Tensor:
    """Expression [T, K] whose opening (expression @ opening_map) has its slow part blended toward predicted [T]
    (blend_slow_opening); the change is made by the jaw channel alone. The other channels are untouched."""
    weight = float(opening_map[jaw])
    if weight <= 0:
        raise ValueError(f"opening prior: the opening map gives the jaw channel weight {weight}; it must open the "
                         f"mouth")
    opening = expression.float() @ opening_map.float()
    out = expression.clone()
    out[:, jaw] += (blend_slow_opening(opening, predicted, share, sigma) - opening) / weight
    return out


# ---------------------------------------------------------------------------------------------- weights

def find_weights() -> str | None:
    """models/modit/WEIGHTS_FILE if a user put one there, else the bundled file; None when neither exists."""
    return user_or_bundled(WEIGHTS_FILE)


def save_regressor(path: str, model: OpeningRegressor, metadata: dict | None = None) -> None:
    from ..checkpoints import save_checkpoint

    meta = {"kind": FEATURE_KIND, "dim": model.dim, "expression_dim": model.opening_map.numel(),
            "members": len(model.members), "context": model.context, "width": model.members[0].head.in_channels}
    save_checkpoint(path, model.state_dict(), {**meta, **(metadata or {})})


def load_regressor(path: str, device: str | torch.device = "cpu") -> OpeningRegressor:
    from ..checkpoints import check_state_dict, load_checkpoint

    state, metadata = load_checkpoint(path, device)
    if metadata.get("kind", FEATURE_KIND) != FEATURE_KIND:
        raise ValueError(f"{os.path.basename(path)}: an opening regressor for {metadata.get('kind')!r} features; "
                         f"this pack reads {FEATURE_KIND!r}")
    model = OpeningRegressor(int(metadata.get("dim", 832)), int(metadata.get("expression_dim", 12)),
                             int(metadata.get("members", 4)), int(metadata.get("context", CONTEXT)),
                             int(metadata.get("width", WIDTH)))
    check_state_dict(state, {k: v.shape for k, v in model.state_dict().items()}, path, "mouth-opening regressor",
                     "train it with python -m modit_app train-opening")
    model.load_state_dict(state)
    model.metadata = metadata
    return model.to(device).eval()


def _load_logged(path: str) -> OpeningRegressor:
    model = load_regressor(path)
    log.info("opening prior: %s (%s)", path, model.metadata.get("license", "no licence in metadata"))
    return model


_LOADED = LoadedOnce(_load_logged)


def load_bundled() -> OpeningRegressor | None:
    """The opening regressor (a user's in models/modit, else the bundled one), loaded once per weights file; None,
    with a warning, when there is none."""
    path = find_weights()
    if path is None:
        log.warning("opening prior: no %s in models/modit or modit/weights; the DiT's mouth is used alone "
                    "(train one with python -m modit_app train-opening)", WEIGHTS_FILE)
        return None
    return _LOADED.get(path)
