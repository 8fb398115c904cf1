"""Bias injection (paper §3.4.2, Algorithm 1): the lip-sync bias M_D, the expression bias M_E, the phase decider.

Notation (code name -> paper symbol):
  diagonal_bias    -> M_D, the diagonal lip-sync bias: frame i may only look at audio frames j with |i - j| <= width
  expression_bias  -> M_E, the dispersed expression bias: a broad log-prior exp(-(i - j)^2 / (2 spread^2)) that
                      spreads attention over neighbouring speech, for expression that follows the utterance
  phase_threshold  -> t_T, the phase boundary of Algorithm 1
  phase_bias       -> the phase decider: M = M_D + M_E while t < t_T (late, fine steps: lips lock to the audio)
                      and M = M_E otherwise (early, coarse steps: free expression)

Phase order: Algorithm 1 and the prose disagree, and we follow Algorithm 1. Algorithm 1 injects M_D + M_E when
t < t_T, i.e. in the LATE, low-noise steps, and M_E alone in the early, noisy ones. The prose of §3.4.2 (and the
abstract: "refine lip synchronization and progressively enhance full-face coherence") tells the hierarchy the other
way round: lips locked first, the whole face refined after. We keep Algorithm 1 because (1) it is the one precise,
testable statement (a comparison on a step index), (2) it matches what a denoiser decides when: the noisy steps
set the coarse, utterance-level shape of the motion, for which the wide M_E context is right, and the low-noise
steps set per-frame timing, which is what a +-2-frame band constrains, and (3) training uses the same rule per
sample (modit/train/loop.py), so sampling with the prose order would show the network masks it never saw.
t_T = 0 gives M_E only at every step and t_T = num_train_steps gives M_D + M_E at every step, so both ends of the
design are reachable from the Sample Expression node without a second code path.

Where the bias goes: always on the audio cross-attention logits, s = Q K^T / sqrt(d_k) + M, over [T query frames,
T audio frames]. A network whose config says `self_attention_bias` (the abstract's "biased self/cross-attention")
also adds M to its self-attention over frames; the extra beta_0 key is never biased. Which of the two the shipped
network uses was chosen on the real-speaker validation bench (bench/real_motion.py); its config records it. They are pure functions of (t, t_T, T) so
that the network never holds step state (the bias is an argument of its forward) and every sampler shares them.
"""
import torch

DEFAULT_WIDTH = 2  # M_D half-width in frames: +-2 frames = +-80 ms at 25 fps, about one phoneme's reach
DEFAULT_SPREAD = 12.0  # M_E standard deviation in frames (~0.5 s at 25 fps)


def _offsets(num_frames: int, device=None) -> torch.Tensor:
    frames = torch.arange(num_frames, device=device)
    return (frames[None, :] - frames[:, None]).abs()  # [T, T] |i - j|


def diagonal_bias(num_frames: int, width: int = DEFAULT_WIDTH, strength: float = float("inf"),
                  device=None, dtype=torch.float32) -> torch.Tensor:
    """M_D: [T, T] zeros on the band |i - j| <= width, -strength elsewhere (-inf = a hard band).

    A hard band is safe because the attention always has one unbiased extra key (the audio summary A_n).
    """
    outside = _offsets(num_frames, device) > width
    return torch.zeros(num_frames, num_frames, device=device, dtype=dtype).masked_fill(outside, -strength)


def expression_bias(num_frames: int, spread: float = DEFAULT_SPREAD, device=None,
                    dtype=torch.float32) -> torch.Tensor:
    """M_E: [T, T] log-Gaussian prior -(i - j)^2 / (2 spread^2): near frames favoured, far ones still visible."""
    offsets = _offsets(num_frames, device).to(torch.float32)
    return (-(offsets ** 2) / (2.0 * spread ** 2)).to(dtype)


def uses_lip_bias(t, phase_threshold: int):
    """Algorithm 1's phase decider: True (M_D + M_E) where t < t_T, False (M_E only) otherwise.

    t: an int step index or a [B] tensor of them (training). t_T <= 0 never injects M_D; t_T above the
    largest step always does.
    """
    if isinstance(t, torch.Tensor):
        return t < phase_threshold
    return int(t) < phase_threshold


def phase_bias(t, phase_threshold: int, num_frames: int, width: int = DEFAULT_WIDTH,
               spread: float = DEFAULT_SPREAD, device=None, dtype=torch.float32) -> torch.Tensor:
    """The bias M for step t (Algorithm 1): [T, T] for an int t, [B, T, T] for a [B] tensor of steps."""
    m_e = expression_bias(num_frames, spread, device, dtype)
    m_d = diagonal_bias(num_frames, width, device=device, dtype=dtype)
    lip = uses_lip_bias(t, phase_threshold)
    if isinstance(lip, torch.Tensor):
        return torch.where(lip.to(device)[:, None, None], m_d + m_e, m_e)  # [B, T, T]
    return m_d + m_e if lip else m_e
