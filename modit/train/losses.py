"""Training losses (paper §3.5): the noise loss L_t (eq. 3), the velocity loss L_v (eq. 7), landmarks L_lks.

Notation (code name -> paper symbol):
  eps, eps_pred   -> eps, eps_theta(X_t, t, A, beta_0)
  x0, pred_x0     -> X_0 (target expression window), X^_0 = (X_t - sqrt(1 - alpha_bar_t) eps_theta) / sqrt(alpha_bar_t)
  noise_loss      -> L_t = || eps - eps_theta ||^2                                           (eq. 3)
  velocity_loss   -> L_v = || (X^_0[i+1] - X^_0[i]) - (X_0[i+1] - X_0[i]) ||^2               (eq. 7)
  landmark_loss   -> L_lks on decoded geometry, when a decode callable (expression -> points) is given
  LOSS_WEIGHTS    -> L = 10 L_t + 0.2 L_read + 0.1 L_lks + 0.1 L_v; there is no lip reader here, so L_read is absent

X^_0 is a poor estimate at very noisy steps (it divides by sqrt(alpha_bar_t) -> 0), and its error there is noise
amplification rather than anything the network can fix; L_v and L_lks therefore weight each sample by
alpha_bar_t, which keeps the gradients bounded and focuses them on the steps where motion detail is decided.
"""
import torch

LOSS_WEIGHTS = {"noise": 10.0, "read": 0.2, "landmark": 0.1, "velocity": 0.1}


def _masked_mean(values: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of values [B, T, ...] over valid frames (mask [B, T] 0/1), optionally weighted per sample [B]."""
    per_frame = values.reshape(values.shape[0], values.shape[1], -1).mean(dim=-1)  # [B, T]
    per_frame = per_frame * mask
    if weight is not None:
        per_frame = per_frame * weight[:, None]
    return per_frame.sum() / mask.sum().clamp(min=1)


def noise_loss(eps_pred: torch.Tensor, eps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """eq. 3: mean squared error of the predicted noise; eps [B, T, K], mask [B, T]."""
    return _masked_mean((eps_pred - eps) ** 2, mask)


def velocity_loss(pred_x0: torch.Tensor, x0: torch.Tensor, mask: torch.Tensor,
                  weight: torch.Tensor | None = None) -> torch.Tensor:
    """eq. 7: squared error of consecutive-frame differences; [B, T, K] each, mask [B, T], weight [B]."""
    velocity_pred = pred_x0[:, 1:] - pred_x0[:, :-1]  # [B, T-1, K]
    velocity = x0[:, 1:] - x0[:, :-1]
    pair_mask = mask[:, 1:] * mask[:, :-1]  # a difference counts only where both frames are real
    return _masked_mean((velocity_pred - velocity) ** 2, pair_mask, weight)


def landmark_loss(pred_x0: torch.Tensor, x0: torch.Tensor, mask: torch.Tensor, decode,
                  weight: torch.Tensor | None = None) -> torch.Tensor:
    """L_lks: squared distance of decoded points, decode: [B, T, K] expression -> [B, T, N, 3] (or [B, T, N, 2])."""
    return _masked_mean((decode(pred_x0) - decode(x0)) ** 2, mask, weight)
