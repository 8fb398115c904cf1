"""The MoDiT denoiser (paper §3.2-3.3, Figure 3): a diffusion transformer predicting the noise in expressions.

Notation (code name -> paper symbol):
  x_t            -> X_t, the noisy expression sequence at diffusion step t          [B, T, K]
  beta_0         -> beta_0, the source portrait's expression (one extra token)     [B, K]
  audio          -> A_{1..T}, frame-aligned audio features                          [B, T, D]
  audio_summary  -> A_n, the extra audio token prepended to the cross-attention keys/values: the mean of the
                    window's audio tokens, so every frame also sees the whole utterance window (and a query
                    always has one key that the masks of Algorithm 1 never hide)
  attn_bias      -> M of Algorithm 1 (bias_injection.phase_bias), added to the audio cross-attention logits
  c              -> the diffusion-step embedding c_t that drives adaLN-Zero and z_t of eq. 6
  eps            -> epsilon_theta(X_t, t, A, beta_0), the predicted noise of eq. 3

One block (Figure 3), each sub-layer pre-normed, modulated by c (adaLN-Zero) and gated into the residual:
  1. self-attention, keys/values [beta_0; K_s], [beta_0; V_s]             (eq. 4)
  2. cross-attention to audio, keys/values [A_n; K_c], [A_n; V_c], + M   (eq. 5 with Algorithm 1's bias)
  3. revised temporal attention s~_t = Q K^T / sqrt(d_k) + f(z_t)        (eq. 6, temporal_attention.py)
  4. feed-forward network

Inputs are in the network's normalised units: the model keeps the data statistics it was trained with as
buffers (`audio_mean/std`, `expression_mean/std`) and offers the unit conversions to the sampler and trainer:
  motion_units(beta, beta_0)   the diffusion variable X_0. With config.relative_motion (issue 14) it is the motion
                               relative to the source, (beta - beta_0) / expression_std, so "no motion" is exactly
                               the source's own expression (a smile stays a smile, silence returns to the source's
                               mouth); otherwise (v1) the absolute (beta - expression_mean) / expression_std.
  beta_0_units(beta_0)         the beta_0 token's input, (beta_0 - mean) / std clipped to +-BETA_0_CLIP: a real
                               portrait can sit hundreds of training stds out on a channel the corpus never moved,
                               and such a token drove the v1 network into frame-to-frame chatter.
  audio_units(audio)           (features - audio_mean) / audio_std, after removing the utterance's own per-column
                               mean when config.audio_norm == "utterance" (cepstral-mean style normalisation, so
                               eSpeak and recorded voices, loud or quiet, look alike to the network).
"""
import math

import torch
import torch.nn as nn

from ..audio.normalization import utterance_centre
from .presets import DiTConfig
from .temporal_attention import TemporalAttention, scaled_attention

BETA_0_CLIP = 5.0  # |beta_0 token input| bound in training-data standard deviations


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: x [B, T, C] * (1 + scale) + shift, with shift/scale [B, C] broadcast over frames."""
    return x * (1 + scale[:, None]) + shift[:, None]


def sinusoidal(positions: torch.Tensor, size: int, max_period: float = 10000.0) -> torch.Tensor:
    """[...] positions (frame index or diffusion step) -> [..., size] sin/cos features."""
    half = size // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    angles = positions.to(torch.float32)[..., None] * freqs
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


class MultiHeadAttention(nn.Module):
    """Queries from the motion tokens, keys/values from `context` (which may carry prepended extra tokens)."""

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(hidden_size, hidden_size)
        self.kv = nn.Linear(hidden_size, 2 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)

    def forward(self, x, context, bias=None, return_weights=False):
        """x: [B, T, C], context: [B, S, C], bias: broadcastable to [B, h, T, S] -> [B, T, C]."""
        B, T, C = x.shape
        S, h = context.shape[1], self.num_heads
        q = self.q(x).view(B, T, h, C // h).transpose(1, 2)  # [B, h, T, d]
        k, v = self.kv(context).view(B, S, 2, h, C // h).permute(2, 0, 3, 1, 4)  # 2x [B, h, S, d]
        y, weights = scaled_attention(q, k, v, bias, return_weights)
        return self.out(y.transpose(1, 2).reshape(B, T, C)), weights


class DiTBlock(nn.Module):
    """Figure 3: self-attention with beta_0, audio cross-attention with A_n and M, temporal attention, FFN."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        C = config.hidden_size
        self.norms = nn.ModuleList(nn.LayerNorm(C, elementwise_affine=False, eps=1e-6) for _ in range(4))
        self.context_norm = nn.LayerNorm(C, eps=1e-6)
        self.self_attention = MultiHeadAttention(C, config.num_heads)
        self.cross_attention = MultiHeadAttention(C, config.num_heads)
        self.temporal_attention = TemporalAttention(C, config.num_heads, config.temporal_range, config.latent_size)
        self.ffn = nn.Sequential(nn.Linear(C, config.ffn_size), nn.GELU(approximate="tanh"),
                                 nn.Linear(config.ffn_size, C))
        # adaLN-Zero: (shift, scale, gate) for each of the 4 sub-layers; zero-initialised in MoDiT.__init__.
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(C, 12 * C))

    def forward(self, x, c, beta_token, audio_tokens, cross_bias, return_weights=False, self_bias=None):
        """x: [B, T, C]; c: [B, C]; beta_token: [B, 1, C]; audio_tokens: [B, 1+T, C] ([A_n; A_1..T]);
        cross_bias, self_bias: [B, 1, T, 1+T] or None (the extra first key, A_n or beta_0, is never biased).
        Returns x [B, T, C] and {name: weights} when asked."""
        # adaLN-Zero, one (shift, scale, gate) per sub-layer, in the order of the Linear's output (as DiT's blocks)
        (shift_self, scale_self, gate_self,
         shift_cross, scale_cross, gate_cross,
         shift_temporal, scale_temporal, gate_temporal,
         shift_ffn, scale_ffn, gate_ffn) = self.adaLN_modulation(c).chunk(12, dim=1)  # 12 x [B, C]
        weights = {}

        h = modulate(self.norms[0](x), shift_self, scale_self)
        y, weights["self"] = self.self_attention(h, torch.cat([beta_token, h], dim=1), self_bias, return_weights)  # eq. 4
        x = x + gate_self[:, None] * y

        h = modulate(self.norms[1](x), shift_cross, scale_cross)
        y, weights["cross"] = self.cross_attention(h, self.context_norm(audio_tokens), cross_bias, return_weights)
        x = x + gate_cross[:, None] * y

        h = modulate(self.norms[2](x), shift_temporal, scale_temporal)
        y, weights["temporal"] = self.temporal_attention(h, c, return_weights)  # eq. 6
        x = x + gate_temporal[:, None] * y

        h = modulate(self.norms[3](x), shift_ffn, scale_ffn)
        x = x + gate_ffn[:, None] * self.ffn(h)
        return x, weights


class MoDiT(nn.Module):
    """epsilon_theta(X_t, t, A, beta_0; M): one denoising prediction, no schedule, no step state, no RNG."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = config
        C, K, D = config.hidden_size, config.expression_dim, config.feature_dim
        self.expression_embed = nn.Linear(K, C)
        self.beta_0_embed = nn.Linear(K, C)
        self.audio_embed = nn.Sequential(nn.Linear(D, C), nn.GELU(approximate="tanh"), nn.Linear(C, C))
        self.null_audio = nn.Parameter(torch.zeros(C))  # the dropped condition of classifier-free guidance
        self.step_embed = nn.Sequential(nn.Linear(C, C), nn.SiLU(), nn.Linear(C, C))
        self.blocks = nn.ModuleList(DiTBlock(config) for _ in range(config.depth))
        self.final_norm = nn.LayerNorm(C, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(C, 2 * C))
        self.final = nn.Linear(C, K)
        # Data statistics (set by training from the corpus): the network works in unit-variance coordinates.
        self.register_buffer("audio_mean", torch.zeros(D))
        self.register_buffer("audio_std", torch.ones(D))
        self.register_buffer("expression_mean", torch.zeros(K))
        self.register_buffer("expression_std", torch.ones(K))
        self._initialize_weights()

    def _initialize_weights(self):
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        # TemporalAttention zeroed f's output layer in its own __init__; xavier above must not undo it.
        for block in self.blocks:
            nn.init.zeros_(block.temporal_attention.bias_mlp[-1].weight)
            # adaLN-Zero: every gate starts at 0, so each block starts as the identity (facebookresearch/DiT).
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_modulation[-1].weight)
        nn.init.zeros_(self.final_modulation[-1].bias)
        nn.init.zeros_(self.final.weight)
        nn.init.zeros_(self.final.bias)

    # ------------------------------------------------------------------ units

    def normalize_audio(self, audio: torch.Tensor) -> torch.Tensor:
        return (audio - self.audio_mean) / self.audio_std

    def audio_centre(self, audio: torch.Tensor) -> torch.Tensor | None:
        """The per-utterance centre [D] of raw features [T, D] (None unless the config's audio_norm is "utterance")."""
        if self.config.audio_norm != "utterance":
            return None
        return utterance_centre(audio.float(), self.config.utterance_norm_columns or None).to(self.audio_mean.device)

    def audio_units(self, audio: torch.Tensor, centre: torch.Tensor | None = None) -> torch.Tensor:
        """Raw features [T, D] -> the network's audio input.

        audio is one whole utterance, or a window of one whose audio_centre() is given (sampling long recordings
        window by window, never normalising a whole-recording copy at once).
        """
        if centre is None:
            centre = self.audio_centre(audio)
        if centre is not None:
            audio = audio - centre
        return self.normalize_audio(audio)

    def beta_0_units(self, beta_0: torch.Tensor) -> torch.Tensor:
        """Raw source expression [..., K] -> the beta_0 token's input (clipped, see the module docstring)."""
        return self.normalize_expression(beta_0).clamp(-BETA_0_CLIP, BETA_0_CLIP)

    def motion_units(self, expression: torch.Tensor, beta_0: torch.Tensor) -> torch.Tensor:
        """Raw expressions [B, T, K] and their source beta_0 [B, K] -> the diffusion variable X_0 [B, T, K]."""
        if self.config.relative_motion:
            return (expression - beta_0[:, None]) / self.expression_std
        return self.normalize_expression(expression)

    def expression_from_motion(self, x: torch.Tensor, beta_0: torch.Tensor) -> torch.Tensor:
        """Inverse of motion_units: X_0 [B, T, K] and raw beta_0 [B, K] -> raw expressions [B, T, K]."""
        if self.config.relative_motion:
            return x * self.expression_std + beta_0[:, None]
        return self.denormalize_expression(x)

    def normalize_expression(self, expression: torch.Tensor) -> torch.Tensor:
        return (expression - self.expression_mean) / self.expression_std

    def denormalize_expression(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.expression_std + self.expression_mean

    # ------------------------------------------------------------------ prediction

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, audio: torch.Tensor, beta_0: torch.Tensor,
                attn_bias: torch.Tensor | None = None, drop_audio: torch.Tensor | None = None) -> torch.Tensor:
        """Predict the noise of eq. 3.

        x_t: [B, T, K] noisy normalised expression; t: [B] int steps; audio: [B, T, D] normalised features;
        beta_0: [B, K] source expression in beta_0_units; attn_bias: M, [T, T] or [B, T, T] (None = no bias);
        drop_audio: [B] bool, True replaces that sample's audio by the null condition (guidance / training).
        Returns eps: [B, T, K].
        """
        return self._predict(x_t, t, audio, beta_0, attn_bias, drop_audio, False)[0]

    def forward_with_attention(self, x_t, t, audio, beta_0, attn_bias=None, drop_audio=None):
        """forward(), plus each block's attention weights [{"self", "cross", "temporal": [B, h, T, S]}]."""
        return self._predict(x_t, t, audio, beta_0, attn_bias, drop_audio, True)

    def _predict(self, x_t, t, audio, beta_0, attn_bias, drop_audio, return_weights):
        B, T, K = x_t.shape
        C = self.config.hidden_size
        frames = sinusoidal(torch.arange(T, device=x_t.device), C).to(x_t.dtype)  # [T, C]
        c = self.step_embed(sinusoidal(t.reshape(-1).expand(B), C).to(x_t.dtype))  # [B, C] c_t
        x = self.expression_embed(x_t) + frames  # [B, T, C]
        beta_token = self.beta_0_embed(beta_0)[:, None]  # [B, 1, C]
        audio_tokens = self.audio_embed(audio) + frames  # [B, T, C]
        if drop_audio is not None:
            null = self.null_audio.to(audio_tokens.dtype).expand(B, T, C)
            audio_tokens = torch.where(drop_audio.reshape(B, 1, 1), null, audio_tokens)
        audio_summary = audio_tokens.mean(dim=1, keepdim=True)  # [B, 1, C] A_n
        audio_tokens = torch.cat([audio_summary, audio_tokens], dim=1)  # [B, 1+T, C]
        cross_bias = None
        if attn_bias is not None:
            bias = attn_bias.to(x.dtype).expand(B, T, T) if attn_bias.ndim == 2 else attn_bias.to(x.dtype)
            cross_bias = torch.cat([bias.new_zeros(B, T, 1), bias], dim=2)[:, None]  # [B, 1, T, 1+T]: A_n unbiased
        self_bias = cross_bias if self.config.self_attention_bias else None  # same shape: beta_0 key unbiased
        all_weights = []
        for block in self.blocks:
            x, weights = block(x, c, beta_token, audio_tokens, cross_bias, return_weights, self_bias)  # [B, T, C]
            all_weights.append(weights)
        shift, scale = self.final_modulation(c).chunk(2, dim=1)
        eps = self.final(modulate(self.final_norm(x), shift, scale))  # [B, T, K]
        return eps, all_weights

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
