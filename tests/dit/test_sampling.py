"""Samplers and the driver: exactness on an oracle, seeds, windows == one-shot, no seams on long audio."""
import pytest
import torch

from comfyui_modit.modit.dit.sampling import (PEAK_KNEE, PEAK_WIDTH, SamplingOptions, plan_windows, sample_expression,
                                              shape_start_noise, soft_knee, soften_guided_peaks, undo_guidance_gain)
from comfyui_modit.modit.dit import cuda_graph
from comfyui_modit.modit.dit.samplers import SAMPLERS, make_sampler
from comfyui_modit.modit.dit.schedule import NoiseSchedule
from comfyui_modit.modit.face.components import JAW_OPEN

from .synthetic import audio_features


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_recovers_x0_from_an_oracle(name):
    """With the true noise as the network's answer every sampler must land on X_0."""
    schedule = NoiseSchedule()
    x0 = torch.randn(1, 20, 12)
    sampler = make_sampler(name, schedule)
    sampler.set_timesteps(1000 if name == "ddpm" else 10)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 20, 12, generator=generator)
    for t in sampler.timesteps.tolist():
        x = sampler.step(schedule.predict_eps(x, x0, t), t, x, generator).prev_sample
    assert torch.allclose(x, x0, atol=1e-3), (x - x0).abs().max()


def test_timesteps_run_noisiest_first_and_end_at_zero():
    sampler = make_sampler("ddim", NoiseSchedule())
    sampler.set_timesteps(10)
    steps = sampler.timesteps.tolist()
    assert steps[0] == 999 and steps[-1] == 0 and steps == sorted(steps, reverse=True)
    assert sampler.prev_timestep(0) == -1


def test_plan_windows_covers_everything_with_context():
    plan = plan_windows(130, 50, 10)
    assert plan[0].start == 0 and plan[-1].end == 130
    for before, after in zip(plan, plan[1:]):
        assert after.start + after.known == before.end and after.known >= 10
    assert plan_windows(40, 50, 10) == [plan_windows(40, 50, 10)[0]] and plan_windows(40, 50, 10)[0].known == 0


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpmpp_2m"])
def test_same_seed_same_motion(trained_tiny, sampler):
    model, info, _ = trained_tiny
    schedule = NoiseSchedule(info.schedule)
    audio = audio_features(40).features
    run = lambda seed: sample_expression(model, schedule, audio, torch.zeros(12),
                                         SamplingOptions(sampler=sampler, num_steps=8, seed=seed))
    assert torch.equal(run(7), run(7))
    assert not torch.allclose(run(7), run(8))


def test_cuda_graphs_only_on_cuda(trained_tiny, monkeypatch):
    """The sampler evaluates the model itself off CUDA; on CUDA its graphed replay, unless MODIT_CUDA_GRAPHS=0
    (tests/device checks the replay against eager evaluation on a GPU)."""
    model = trained_tiny[0]
    assert cuda_graph.denoiser(model) is model
    assert cuda_graph.use_cuda_graphs(torch.device("cuda"))
    monkeypatch.setenv("MODIT_CUDA_GRAPHS", "0")
    assert not cuda_graph.use_cuda_graphs(torch.device("cuda"))


def test_windowed_equals_one_shot_on_a_short_input(trained_tiny):
    model, info, _ = trained_tiny
    schedule = NoiseSchedule(info.schedule)
    audio = audio_features(model.config.window).features  # exactly one window
    base = dict(num_steps=8, seed=3, guidance_scale=1.5)
    one_shot = sample_expression(model, schedule, audio, torch.zeros(12), SamplingOptions(window=4 * model.config.window, **base))
    windowed = sample_expression(model, schedule, audio, torch.zeros(12), SamplingOptions(context=3, **base))
    assert torch.equal(one_shot, windowed)


def test_trained_model_follows_the_audio(trained_tiny):
    """The synthetic audio drives jaw_open; the sampled jaw must follow its own audio, not any audio."""
    model, info, _ = trained_tiny
    schedule = NoiseSchedule(info.schedule)
    features = audio_features(120, seed=11).features
    other = audio_features(120, seed=12).features
    jaw = sample_expression(model, schedule, features, torch.zeros(12),
                            SamplingOptions(num_steps=10, seed=0))[:, JAW_OPEN]
    corr = lambda a, b: float(torch.corrcoef(torch.stack([a, b]))[0, 1])
    own, foreign = corr(jaw, features[:, 5]), corr(jaw, other[:, 5])
    assert own > 0.5 and own > foreign + 0.3, (own, foreign)


def test_long_input_is_continuous_across_window_boundaries(trained_tiny):
    model, info, _ = trained_tiny
    L, context = model.config.window, 4
    T = 6 * L
    features = audio_features(T, seed=5).features
    expression = sample_expression(model, NoiseSchedule(info.schedule), features, torch.zeros(12),
                                   SamplingOptions(num_steps=10, seed=1, context=context))
    step = (expression[1:] - expression[:-1]).abs().max(dim=1).values  # [T-1] largest change between frames
    plan = plan_windows(T, L, context)
    seams = torch.tensor([w.start + w.known - 1 for w in plan[1:]])  # jump from old frames to the first new one
    inside = torch.ones(T - 1, dtype=torch.bool)
    inside[seams] = False
    # A seam is a boundary whose change between frames stands out from the motion inside windows.
    assert step[seams].max() < 3 * step[inside].quantile(0.9), (step[seams], step[inside].quantile(0.9))
    assert step[seams].mean() < 2 * step[inside].mean(), (step[seams], step[inside].mean())


@pytest.mark.parametrize("sampler", ["ddim", "dpmpp_2m"])
def test_x0_clip_keeps_deterministic_samplers_inside_the_space(trained_tiny, sampler):
    model, info, _ = trained_tiny
    schedule = NoiseSchedule(info.schedule)
    audio = audio_features(40).features

    class Overconfident(torch.nn.Module):
        """The network's eps scaled up: its implied X_0 flies far outside the data, as an undertrained DiT's does."""

        def __init__(self):
            super().__init__()
            self.inner, self.config = model, model.config

        def forward(self, *args):
            return 3.0 * self.inner(*args)

        def __getattr__(self, name):
            try:
                return super().__getattr__(name)
            except AttributeError:
                return getattr(self.inner, name)

    run = lambda clip: sample_expression(Overconfident(), schedule, audio, torch.zeros(12),
                                         SamplingOptions(sampler=sampler, num_steps=8, seed=1, x0_clip=clip))
    clipped, free = (model.normalize_expression(run(clip)) for clip in (2.0, None))  # in training-data stds
    assert clipped.abs().max() <= 2.0 + 1e-4
    assert free.abs().max() > 4.0, "without the clip the same run leaves the space"


def test_undoing_the_guidance_gain_takes_back_the_course_and_keeps_the_articulation():
    """Guidance's lasting pull off beta_0 shrinks (more guidance, more taken back; the kept channel untouched);
    what alternates faster than the course (a closure every other frame) stays; unguided motion is unchanged."""
    fps, T = 25.0, 60
    generator = torch.Generator().manual_seed(0)
    beta_0 = torch.randn(12, generator=generator)
    pull = torch.randn(12, generator=generator)  # a lasting offset per channel
    flutter = 0.2 * torch.tensor([(-1.0) ** i for i in range(T)])[:, None].expand(T, 12)  # frame-to-frame articulation
    expression = beta_0 + pull + flutter
    assert torch.equal(undo_guidance_gain(expression, beta_0, 1.0, fps, keep=(JAW_OPEN,)), expression)
    others = [k for k in range(12) if k != JAW_OPEN]
    previous = pull.abs()
    for w in (1.5, 2.5, 4.0):
        out = undo_guidance_gain(expression, beta_0, w, fps, keep=(JAW_OPEN,))
        assert torch.equal(out[:, JAW_OPEN], expression[:, JAW_OPEN])
        held = (out - beta_0)[10:-10].mean(0)  # the lasting offset, away from the ends
        ratio = held[others] / pull[others]
        assert 0 < float(ratio.min()) and float(ratio.max()) < 1  # toward beta_0, never across it
        assert float(ratio.max() - ratio.min()) < 1e-3  # the same share of every channel's course
        assert (held[others].abs() < previous[others]).all()  # more guidance, more taken back
        previous = held.abs()
        swing = (out - beta_0 - held)[10:-10, others]  # the articulation left around the course
        assert torch.allclose(swing.abs().mean(), torch.tensor(0.2), rtol=0.1)


def test_soft_knee_keeps_small_values_and_compresses_large_ones_smoothly():
    """Up to knee - width / 2 the values are kept; past knee + width / 2 they rise by 1 / ratio; the curve is
    continuous, increasing and has no kink (its slope moves from 1 to 1 / ratio across the knee)."""
    x = torch.linspace(-1.0, 1.0, 20001, dtype=torch.float64)
    knee, width, ratio = 0.15, 0.15, 2.0
    y = soft_knee(x, knee, width, ratio)
    below, above = x <= knee - width / 2, x >= knee + width / 2
    assert torch.equal(y[below], x[below])
    assert torch.allclose(y[above], knee + (x[above] - knee) / ratio)
    slope = torch.diff(y) / torch.diff(x)
    assert (slope > 1 / ratio - 1e-6).all() and (slope < 1 + 1e-6).all()
    assert float(torch.diff(slope).abs().max()) < 1e-3  # no kink


def test_softening_guided_peaks_compresses_only_the_widest_openings_of_the_given_channel():
    """Openings more than the knee above beta_0 come down, closings and small openings stay as sampled, other
    channels are untouched, and without guidance nothing changes."""
    beta_0 = torch.linspace(-0.2, 0.2, 12)
    offset = torch.linspace(-0.3, 0.6, 40)
    expression = beta_0 + offset[:, None].expand(40, 12)
    out = soften_guided_peaks(expression, beta_0, 2.5, (JAW_OPEN,))
    others = [k for k in range(12) if k != JAW_OPEN]
    assert torch.equal(out[:, others], expression[:, others])
    small = offset <= PEAK_KNEE - PEAK_WIDTH / 2
    assert torch.equal(out[small, JAW_OPEN], expression[small, JAW_OPEN])
    assert (out[~small, JAW_OPEN] < expression[~small, JAW_OPEN]).all()
    assert (torch.diff(out[:, JAW_OPEN]) > 0).all()  # a wider sampled opening is still a wider one
    assert torch.equal(soften_guided_peaks(expression, beta_0, 1.0, (JAW_OPEN,)), expression)


def _band_power(x: torch.Tensor, fps: float, lo: float, hi: float) -> float:
    """Power of x [T, K] between lo and hi Hz, summed over channels."""
    spectrum = torch.fft.rfft(x - x.mean(0), dim=0).abs() ** 2
    freqs = torch.fft.rfftfreq(x.shape[0], 1 / fps)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum())


def test_shaping_the_start_noise_takes_out_its_slow_part_and_keeps_its_quick_part():
    """slow_noise scales what varies slower than a syllable (half of it is gone at 1.7 Hz, at 25 fps): 0 removes
    nearly all of it below 1 Hz, 0.5 keeps about half its amplitude; above 6 Hz the noise is as drawn; 1 is the
    paper's white noise, untouched."""
    noise = torch.randn(2000, 12, generator=torch.Generator().manual_seed(0))
    assert shape_start_noise(noise, 1.0) is noise
    slow, quick = (lambda x: _band_power(x, 25.0, 0.0, 1.0)), (lambda x: _band_power(x, 25.0, 6.0, 12.5))
    none, half = shape_start_noise(noise, 0.0), shape_start_noise(noise, 0.5)
    assert slow(none) < 0.05 * slow(noise)
    assert 0.2 * slow(noise) < slow(half) < 0.32 * slow(noise)  # amplitude about halved: power about a quarter
    for shaped in (none, half):
        assert abs(quick(shaped) / quick(noise) - 1) < 0.05
    assert shape_start_noise(noise[:1], 0.0).shape == (1, 12)  # a one-frame input passes through


def test_without_the_slow_noise_seeds_repeat_and_still_vary_the_motion(trained_tiny):
    model, info, _ = trained_tiny
    schedule = NoiseSchedule(info.schedule)
    audio = audio_features(80, seed=4).features
    run = lambda seed, slow: sample_expression(model, schedule, audio, torch.zeros(12),  # noqa: E731
                                               SamplingOptions(num_steps=8, seed=seed, slow_noise=slow))
    assert torch.equal(run(5, 0.0), run(5, 0.0))
    assert not torch.allclose(run(5, 0.0), run(6, 0.0))
    assert not torch.allclose(run(5, 0.0), run(5, 1.0))
