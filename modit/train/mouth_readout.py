"""A mouth-opening readout of the expression, for a training loss that weights what lip sync is judged on (issue 14).

The DiT's noise loss L_t weighs the 12 expression channels alike, although the real-speaker bench judges one thing:
the mouth opening (inner-lip gap / inter-ocular distance). Real shards store that opening, measured on the frames
(`mouth_open`, modit/data/extract.py), beside the tracked expression. A least-squares line
    opening ~ expression . w + b
fitted on them explains the measured opening almost entirely (r 0.98 on the val shards, bench/lipsync_proxy.py),
so `w` is the direction in expression space that opens the mouth.

MouthReadout turns that into the `decode` of the landmark loss L_lks (losses.landmark_loss, weight 0.1 in
LOSS_WEIGHTS): it maps the network's X_0 (motion relative to beta_0 in training standard deviations, [B, L, K]) to
the change of mouth opening it implies, in units of the real openings' standard deviation times `gain`, shaped
[B, L, 1, 1] like one 1-D landmark. The effective weight of the term is 0.1 * gain^2.
"""
import glob
import os

import torch

from ..checkpoints import load_checkpoint


def fit_mouth_readout(directories: list[str]) -> tuple[torch.Tensor, float, float]:
    """(w [K], b, std of the opening) of opening ~ expression . w + b over every shard that stores `mouth_open`."""
    xs, ys = [], []
    for folder in directories:
        for path in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
            tensors, _ = load_checkpoint(path)
            if "mouth_open" in tensors and tensors["mouth_open"].numel():
                xs.append(tensors["expression"].double())
                ys.append(tensors["mouth_open"].double())
    if not xs:
        raise ValueError(f"no shard in {directories} stores mouth_open; the mouth loss needs real shards written by "
                         f"`python -m modit.data build` (the synthetic corpus has no measured opening)")
    x, y = torch.cat(xs), torch.cat(ys)
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    coef = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
    return coef[:-1].float(), float(coef[-1]), float(y.std())


class MouthReadout:
    """decode for landmark_loss: X_0 [B, L, K] (relative motion / expression_std) -> [B, L, 1, 1] opening change."""

    def __init__(self, weights: torch.Tensor, expression_std: torch.Tensor, opening_std: float, gain: float = 1.0):
        if weights.shape != expression_std.shape:
            raise ValueError(f"mouth readout has {weights.numel()} weights for {expression_std.numel()} expression "
                             f"channels; fit it on shards of the same expression space")
        # one vector: normalised units -> raw coefficients -> opening -> opening standard deviations x gain
        self.direction = (weights * expression_std / max(opening_std, 1e-9) * gain).float()  # [K]

    def __call__(self, x0: torch.Tensor) -> torch.Tensor:
        return (x0 @ self.direction.to(x0.device, x0.dtype))[..., None, None]
