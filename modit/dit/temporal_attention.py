"""Attention with an additive bias, and the revised temporal attention of eq. 6 (paper §3.3).

Notation (code name -> paper symbol):
  q, k, v          -> Q, K, V (per head, d_k = hidden_size / num_heads)
  bias             -> an additive logit bias: M of Algorithm 1 (cross-attention), f(z_t) of eq. 6 (temporal)
  latent           -> z, the learned temporal latent; z_t = z + W c_t adds the diffusion-step embedding c_t
  bias_mlp         -> f, the MLP turning z_t into one bias per head and relative offset j - i in [-R, R]
  temporal_range   -> R; offsets beyond +-R share the edge value, so any sequence length works

eq. 6:  s~_t = Q K^T / sqrt(d_k) + f(z_t)
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None = None,
                     return_weights: bool = False):
    """softmax(Q K^T / sqrt(d_k) + bias) V.

    q: [B, h, Tq, d], k and v: [B, h, Tk, d], bias: broadcastable to [B, h, Tq, Tk] (additive, may hold -inf).
    Returns [B, h, Tq, d], plus the weights [B, h, Tq, Tk] when return_weights (the explicit, slower path).
    """
    if not return_weights:
        mask = None if bias is None else bias.to(q.dtype)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None
    logits = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # [B, h, Tq, Tk]
    if bias is not None:
        logits = logits + bias.to(logits.dtype)
    weights = logits.softmax(dim=-1)
    return weights @ v, weights


class TemporalAttention(nn.Module):
    """Self-attention over frames whose logits get a learned, step-dependent relative-position bias (eq. 6)."""

    def __init__(self, hidden_size: int, num_heads: int, temporal_range: int, latent_size: int):
        super().__init__()
        self.num_heads = num_heads
        self.temporal_range = temporal_range
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.latent = nn.Parameter(torch.randn(latent_size) * 0.02)  # z
        self.latent_from_step = nn.Linear(hidden_size, latent_size)  # W: c_t -> z_t - z
        self.bias_mlp = nn.Sequential(  # f
            nn.Linear(latent_size, latent_size), nn.SiLU(),
            nn.Linear(latent_size, num_heads * (2 * temporal_range + 1)))
        # f starts at exactly zero so eq. 6 begins as plain attention: a random temporal prior at step 0 would
        # scramble which frames attend to which before the network has learned anything about timing.
        nn.init.zeros_(self.bias_mlp[-1].weight)
        nn.init.zeros_(self.bias_mlp[-1].bias)

    def temporal_bias(self, c: torch.Tensor, num_frames: int) -> torch.Tensor:
        """f(z_t): [B, h, T, T] from the step embedding c: [B, hidden]."""
        B, R = c.shape[0], self.temporal_range
        z_t = self.latent + self.latent_from_step(c)  # [B, latent]
        table = self.bias_mlp(z_t).view(B, self.num_heads, 2 * R + 1)  # [B, h, 2R+1]
        frames = torch.arange(num_frames, device=c.device)
        offset = (frames[None, :] - frames[:, None]).clamp(-R, R) + R  # [T, T] index of j - i
        return table[:, :, offset]  # [B, h, T, T]

    def forward(self, x: torch.Tensor, c: torch.Tensor, return_weights: bool = False):
        """x: [B, T, hidden], c: [B, hidden] -> [B, T, hidden] (and weights [B, h, T, T])."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)  # 3x [B, h, T, d]
        y, weights = scaled_attention(q, k, v, self.temporal_bias(c, T), return_weights)  # eq. 6
        return self.out(y.transpose(1, 2).reshape(B, T, C)), weights
