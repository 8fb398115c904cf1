"""The sampling driver (paper Algorithm 1): phase-dependent bias injection, guidance, seeds, long audio in windows.

Notation (code name -> paper symbol):
  x                 -> X_t, the expression sequence being denoised (normalised units)     [1, L, K]
  t, timesteps      -> t of Algorithm 1, from the noisiest step down to 0
  phase_threshold   -> t_T: M = M_D + M_E while t < t_T, else M = M_E (bias_injection.phase_bias)
  guidance_scale    -> w of classifier-free guidance: eps = eps_u + w (eps_c - eps_u), eps_u with the audio dropped
  GUIDED_GAIN       -> not in the paper: how much further than real speakers guidance moves the channels other than
                       the mouth opening, per unit of w above 1; undo_guidance_gain takes it back from their course
                       after sampling
  PEAK_KNEE, ..     -> not in the paper: guidance also opens the mouth's widest moments further than real speakers
                       do; soften_guided_peaks compresses openings beyond a knee after sampling
  slow_noise        -> not in the paper: the share of X_T's slow part kept (shape_start_noise); 1 = X_T ~ N(0, I)
  window, context   -> long audio is sampled in windows of `window` frames; each window after the first starts
                       with `context` (or more) frames already produced by the previous one. The first half of
                       them is held at its known values by replacement at every step (inpainting: X_t[known] =
                       sqrt(alpha_bar_t) X_0[known] + sqrt(1 - alpha_bar_t) eps[known], eps being the noise those
                       frames started from), so the new frames continue the old ones; over the second half the old
                       frames cross-fade linearly into the window's own version, which removes the small step a
                       few-step sampler leaves where held frames meet free ones.

Determinism: all noise comes from one torch.Generator on the CPU seeded with `seed`: the starting noise of every
frame is drawn once up front ([T, K], tiny), then any per-step noise window by window, so one seed gives the
same motion on every device. A short input (T <= window) is one window: windowed and one-shot are the same run.
Memory is bounded by one window (plus the [T, K] result), whatever the audio length.
"""
import logging
from dataclasses import dataclass

import torch

from ..motion.filters import smooth_tensor
from .bias_injection import DEFAULT_SPREAD, DEFAULT_WIDTH, phase_bias, uses_lip_bias
from .cuda_graph import denoiser
from .samplers import make_sampler
from .schedule import NoiseSchedule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplingOptions:
    sampler: str = "ddim"  # a key of samplers.SAMPLERS
    num_steps: int = 10
    phase_threshold: int = 500  # t_T in training-step units (0 = never inject M_D)
    guidance_scale: float = 1.0  # 1 = the conditional prediction only (one network pass per step)
    seed: int = 0
    window: int | None = None  # frames per window; None = the network's training window
    context: int | None = None  # frames carried into the next window; None = a fifth of the window
    bias_width: int = DEFAULT_WIDTH
    bias_spread: float = DEFAULT_SPREAD
    # |X_0 estimate| bound in normalised units, applied by the sampler (samplers/base.py); None turns it off
    x0_clip: float | None = 5.0
    # Share of the starting noise's slow part kept (shape_start_noise): 1 = white Gaussian noise, as in the paper
    slow_noise: float = 1.0


def checkpoint_bias(bias: dict) -> dict:
    """SamplingOptions' bias_width and bias_spread as a checkpoint's metadata gives them (DiTInfo.bias), the defaults
    where it gives none: the width the network was trained with is the one to sample with."""
    return {"bias_width": int(bias.get("width", DEFAULT_WIDTH)),
            "bias_spread": float(bias.get("spread", DEFAULT_SPREAD))}


# How much further from beta_0 classifier-free guidance moves the expression channels, per unit of w above 1:
# the sampled channels' standard deviation over time is 1 + GUIDED_GAIN (w - 1) times the real speakers' own on
# the speaker-disjoint validation clips (bundled v4 DiT, channels lip_round .. lips_press: 0.99x at w = 1, 1.21x
# at 1.5, 1.71x at 2.5; the mean distance from beta_0 alike, e.g. lip_round 0.144 against the real 0.054).
GUIDED_GAIN = 0.47
# Guidance's overshoot at the mouth's widest moments (jaw_open above beta_0, canonical units): on the 10
# speaker-disjoint validation clips (bench/real_motion.py --fast, v5, w 2.5) the sampled mouth's opening varied 1.53x
# as much as the real speakers' (std over time), most of it at the peaks: over the clips, its 97th percentile was
# 1.4x the real one's and its median 1.0x (median clip). Openings up to PEAK_KNEE - PEAK_WIDTH / 2 above beta_0 are
# kept as sampled (the 75th percentile of the sampled jaw's offsets: 0.05-0.16), above PEAK_KNEE + PEAK_WIDTH / 2
# they grow by 1 / PEAK_RATIO of what was sampled, with a quadratic knee between (an audio compressor's curve).
PEAK_KNEE = 0.15
PEAK_WIDTH = 0.15
PEAK_RATIO = 2.0
# A channel's course, taken back, and its articulation, kept: the split is a Gaussian of this sigma over time.
COURSE_SIGMA_S = 0.12
# The starting noise's slow part is its Gaussian of this sigma over time, in frames (0.08 s at the 25 fps of every
# bundled DiT): what varies slower than a syllable.
NOISE_COURSE_SIGMA_FRAMES = 2.0


def shape_start_noise(noise: torch.Tensor, slow_noise: float) -> torch.Tensor:
    """The starting noise [T, K] with its slow part (NOISE_COURSE_SIGMA_FRAMES) scaled by slow_noise; 1: unchanged.

    Not in the paper. With deterministic DDIM the starting noise decides everything the audio does not, and its slow
    part becomes a slow course of its own: the mouth held a little more or less open for a second, whatever is said,
    which the speech cannot explain and which costs lip sync (unseen real speakers, bundled v4, guidance 2.5: r best
    of +-1 0.503 with white noise, 0.536 without its slow part, on bench/lipsync_proxy.py's val shards). The quick
    part, which seeds the variety of the articulation (crisp closures, the share of motion above 6 Hz), is kept as
    drawn, so seeds still differ. (Scaling all of the noise down, a lower temperature, gains as much lip sync but
    smooths the mouth: its share above 6 Hz falls from 0.43x to 0.27x the real speakers' at 0.6.)
    """
    if slow_noise == 1.0:
        return noise
    slow = smooth_tensor(noise, NOISE_COURSE_SIGMA_FRAMES)
    return noise - (1.0 - slow_noise) * slow


def undo_guidance_gain(expression: torch.Tensor, beta_0: torch.Tensor, guidance_scale: float, fps: float,
                       keep: tuple[int, ...] = ()) -> torch.Tensor:
    """expression [T, K] at fps with every channel but `keep` brought back toward beta_0 [K] by the gain guidance
    adds to its course.

    Guidance sharpens the audio-driven timing (lip sync with real speakers: r 0.45 at w 2.5 against 0.29 at 1 on
    the mouth opening), but it also pulls the lip shapes, brows and cheeks off the source's expression and holds
    them there (a smiling source puckers and loses its smile on the words). Each such channel's course (its offset
    from beta_0 smoothed over COURSE_SIGMA_S) is scaled by 1 / (1 + GUIDED_GAIN (w - 1)); what moves faster than
    that, the articulation that gives the mouth its crisp closures, is kept as guided, as is every `keep` channel
    (the mouth opening). w <= 1: unchanged.
    """
    if guidance_scale <= 1.0:
        return expression
    offset = expression - beta_0.reshape(1, -1).to(expression)
    course = smooth_tensor(offset, COURSE_SIGMA_S * fps)
    taken_back = (1.0 - 1.0 / (1.0 + GUIDED_GAIN * (guidance_scale - 1.0))) * course
    kept = torch.zeros(expression.shape[1], dtype=torch.bool, device=expression.device)
    kept[list(keep)] = True
    return torch.where(kept, expression, expression - taken_back)


def soft_knee(x: torch.Tensor, knee: float, width: float, ratio: float) -> torch.Tensor:
    """A compressor's curve: x unchanged up to knee - width / 2, then growing by 1 / ratio of its rise past knee
    + width / 2 (knee + (x - knee) / ratio), a quadratic between them; continuous, smooth and increasing."""
    past = x - (knee - width / 2)
    over = torch.where(past < width, past.clamp_min(0) ** 2 / (2 * width), past - width / 2)
    return x - (1 - 1 / ratio) * over


def soften_guided_peaks(expression: torch.Tensor, beta_0: torch.Tensor, guidance_scale: float,
                        channels: tuple[int, ...]) -> torch.Tensor:
    """expression [T, K] with each of `channels` (the mouth opening) compressed above beta_0 [K] by soft_knee
    (PEAK_KNEE, PEAK_WIDTH, PEAK_RATIO): guidance's overshoot at the widest openings taken back. Closing and
    everything below the knee are kept as sampled, so lip sync and crisp closures are too (on the validation clips'
    driven mesh, r with the real mouths 0.507 -> 0.504, the share above 6 Hz 0.66x -> 0.70x, the amplitude 1.53x ->
    1.35x the real speakers'; rendered, 1.31-1.40x -> 1.19-1.26x over three seeds). w <= 1: unchanged."""
    if guidance_scale <= 1.0 or not channels:
        return expression
    index = list(channels)
    out = expression.clone()
    base = beta_0.to(expression)[index]
    out[:, index] = base + soft_knee(expression[:, index] - base, PEAK_KNEE, PEAK_WIDTH, PEAK_RATIO)
    return out


def take_back_guidance(expression: torch.Tensor, beta_0: torch.Tensor, guidance_scale: float, fps: float,
                       mouth: tuple[int, ...]) -> torch.Tensor:
    """What MoDiT Sample Expression makes of a guided sample [T, K]: every channel but the `mouth` opening with its
    course brought back (undo_guidance_gain), the opening with its widest moments compressed (soften_guided_peaks)."""
    expression = undo_guidance_gain(expression, beta_0, guidance_scale, fps, keep=mouth)
    return soften_guided_peaks(expression, beta_0, guidance_scale, mouth)


@dataclass(frozen=True)
class Window:
    start: int  # first frame of the window
    end: int  # one past its last frame
    known: int  # frames at its start that earlier windows already produced


def plan_windows(num_frames: int, window: int, context: int) -> list[Window]:
    """Overlapping windows covering [0, num_frames): stride window - context; the last one ends at num_frames."""
    if num_frames <= window:
        return [Window(0, num_frames, 0)]
    if not 0 < context < window:
        raise ValueError(f"context must be in 1..{window - 1} frames for window {window}, got {context}")
    plan, produced, start = [], 0, 0
    while True:
        start = min(start, num_frames - window)
        plan.append(Window(start, start + window, produced - start if plan else 0))
        produced = start + window
        if produced >= num_frames:
            return plan
        start += window - context


def count_chunks(num_frames: int, options: SamplingOptions, default_window: int) -> int:
    """Network-evaluation chunks (windows x steps) a run will report progress for."""
    window = options.window or default_window
    return len(plan_windows(num_frames, window, _context(options, window))) * options.num_steps


def _context(options: SamplingOptions, window: int) -> int:
    return options.context if options.context is not None else max(1, window // 5)


@torch.no_grad()
def sample_expression(model, schedule: NoiseSchedule, audio: torch.Tensor, beta_0: torch.Tensor,
                      options: SamplingOptions = SamplingOptions(), on_chunk=None) -> torch.Tensor:
    """Sample an expression sequence for the audio (Algorithm 1, windowed).

    model: a MoDiT (its forward is eps_theta, its buffers give the data units); audio: [T, D] raw features (a
    tensor, or a FeatureTrack whose rows are computed window by window);
    beta_0: [K] raw source expression. on_chunk(): called after every network evaluation chunk (progress and
    cancel). Returns expression [T, K] float32 on the CPU, in raw units (absolute coefficients, whatever the network's
    X_0 is: relative-motion networks add their output to beta_0 here).
    """
    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype
    T, K = audio.shape[0], model.config.expression_dim
    window = options.window or model.config.window
    plan = plan_windows(T, window, _context(options, window))
    generator = torch.Generator(device="cpu").manual_seed(int(options.seed))
    start_noise = shape_start_noise(torch.randn(T, K, generator=generator), options.slow_noise)  # [T, K], drawn once
    audio_centre = model.audio_centre(audio)  # [D] over the whole utterance; applied window by window below
    beta_n = model.beta_0_units(beta_0.float().to(device)).to(dtype).reshape(1, K)  # [1, K]
    result = torch.zeros(T, K)  # [T, K] normalised units, filled window by window
    sampler = make_sampler(options.sampler, schedule, options.x0_clip)
    network = denoiser(model)  # eps_theta: the model, or its CUDA-graph replay
    for w in plan:
        held = w.known - w.known // 2  # the first half of the context is held; the second half is cross-faded
        known = result[w.start:w.start + held].to(device)[None]  # [1, held, K] float32
        # normalised window by window: a whole-recording copy would be [T, D] (110 MB for an hour of mel80)
        audio_n = model.audio_units(audio[w.start:w.end].float().to(device), audio_centre).to(dtype)  # [L, D]
        window_x0 = _sample_window(
            network, schedule, sampler, audio_n[None], beta_n,
            start_noise[w.start:w.end].to(device)[None], known, options, generator, on_chunk)[0].float().cpu()
        fade = w.known - held
        if fade:  # old frames fade into the new window's own version of them: no step at the seam
            weight = torch.linspace(1, 0, fade + 2)[1:-1, None]  # [fade, 1] from ~1 (old) to ~0 (new)
            span = slice(w.start + held, w.start + w.known)
            window_x0[held:w.known] = weight * result[span] + (1 - weight) * window_x0[held:w.known]
        result[w.start + held:w.end] = window_x0[held:]
    log.debug("sampled %d frames in %d windows of %d", T, len(plan), window)
    beta_raw = beta_0.float().to(device).reshape(1, K)
    return model.expression_from_motion(result.to(device)[None], beta_raw)[0].float().cpu()


def _sample_window(network, schedule, sampler, audio, beta_0, noise, known, options, generator, on_chunk):
    """One window: audio [1, L, D], beta_0 [1, K] (model dtype), noise [1, L, K], known [1, n, K] -> X_0 [1, L, K].
    network evaluates eps_theta (the model, or its CUDA-graph replay: cuda_graph.denoiser).

    The sampler's arithmetic stays in float32 whatever the network's dtype: 1 - alpha_bar_t near t = 0 is ~1e-4,
    which fp16 cannot resolve; only the network's inputs are cast.
    """
    L = audio.shape[1]
    n = known.shape[1]
    sampler.set_timesteps(options.num_steps)
    guided = options.guidance_scale != 1.0
    if guided:  # one batch of two: the audio-conditioned and the audio-dropped prediction
        audio, beta_0 = audio.expand(2, -1, -1), beta_0.expand(2, -1)
        drop = torch.tensor([False, True], device=audio.device)
    else:
        drop = None
    x = noise.clone()  # X_{t_max}: pure noise (alpha_bar of the noisiest step is ~0)
    timesteps = sampler.timesteps.tolist()
    if n:
        x[:, :n] = schedule.add_noise(known, noise[:, :n], timesteps[0])
    biases = {}  # M per phase (it depends on t only through the phase decider)
    for t in timesteps:
        phase = uses_lip_bias(t, options.phase_threshold)
        if phase not in biases:  # Alg. 1: the phase decider picks M for this t
            biases[phase] = phase_bias(t, options.phase_threshold, L, options.bias_width, options.bias_spread,
                                       device=x.device, dtype=audio.dtype)
        bias = biases[phase]
        steps = torch.full((audio.shape[0],), t, device=x.device, dtype=torch.long)
        eps = network(x.to(audio.dtype).expand(audio.shape[0], -1, -1), steps, audio, beta_0, bias, drop).float()
        if guided:
            eps = eps[1:] + options.guidance_scale * (eps[:1] - eps[1:])  # classifier-free guidance
        x = sampler.step(eps, t, x, generator).prev_sample
        if n:
            s = sampler.prev_timestep(t)
            x[:, :n] = known if s < 0 else schedule.add_noise(known, noise[:, :n], s)  # hold the context
        if on_chunk is not None:
            on_chunk()
    return x
