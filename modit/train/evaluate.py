"""Lip-sync evaluation of a DiT checkpoint on held-out synthetic voices and sentences (corpus/README.md).

    python -m modit_app evaluate --checkpoint modit/weights/modit_embedded_v1.safetensors

Sampling defaults are those of MoDiT Sample Expression (DDIM, 10 steps, seed 0), with guidance 2: the setting
v1's figures were filed at (the node now defaults to 2.5, chosen for v2 on real speakers).

For every held-out voice (held_out.py: an accent and voice variants the corpus never uses) speaking every
held-out sentence (never produced by the corpus grammar), the script samples the model's expression curves and
compares its jaw_open curve with the corpus targets for that audio:
- r: Pearson correlation between predicted and target jaw_open over the utterance, all frames;
- lag: the shift in frames (predicted relative to target, + = the prediction is late) where the
  cross-correlation of the two mean-removed curves peaks, searched within +-MAX_LAG frames.
Reported per voice (mean r over its sentences, lag of the summed cross-correlation) and over everything.
The goal is r >= 0.8 and lag 0.
"""
import random

import numpy as np
import torch

from ..dit.checkpoint import load_dit
from ..dit.sampling import SamplingOptions, sample_expression
from ..dit.schedule import NoiseSchedule
from ..face.components import JAW_OPEN
from .corpus.generate import Voice, audio_features, render_example, run_in_fresh_processes
from .held_out import HELD_OUT_SENTENCES, HELD_OUT_VOICES

MAX_LAG = 10  # frames (0.4 s at 25 fps)
EVAL_SEED = 2024


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-12))


def cross_correlation(predicted: np.ndarray, target: np.ndarray, max_lag: int = MAX_LAG) -> np.ndarray:
    """[2 * max_lag + 1] sum_t p(t + lag) * q(t) of the mean-removed curves, for lag = -max_lag..max_lag."""
    p, q = predicted - predicted.mean(), target - target.mean()
    out = np.zeros(2 * max_lag + 1)
    for i, lag in enumerate(range(-max_lag, max_lag + 1)):
        if lag >= 0:
            out[i] = (p[lag:] * q[: q.size - lag]).sum()
        else:
            out[i] = (p[: p.size + lag] * q[-lag:]).sum()
    return out


def held_out_examples(augment: bool = False):
    """[(voice, sentence, Example)] for every held-out voice and sentence (deterministic)."""
    # A fresh process: espeak's samples depend on what the process spoke before (corpus/espeak.py).
    return run_in_fresh_processes(_render_held_out, [augment], workers=1)[0]


def _render_held_out(augment: bool):
    examples = []
    for v, name in enumerate(HELD_OUT_VOICES):
        for s, sentence in enumerate(HELD_OUT_SENTENCES):
            rng = random.Random(f"modit-eval-{EVAL_SEED}-{v}-{s}")
            voice = Voice(name, rate=rng.randint(140, 220), pitch=rng.randint(25, 75), pitch_range=rng.randint(30, 80),
                          word_gap=0)
            # vary=False: targets without per-speaker scale or jitter, the curve a model should follow.
            example = render_example(sentence, voice, rng, augment=augment, lead=0.4, tail=0.4, vary=False)
            examples.append((name, sentence, example))
    return examples


def evaluate(predict, augment: bool = False, examples=None) -> dict:
    """predict(waveform [S] float32 at 16 kHz) -> jaw_open [T]; returns per-voice and overall figures.

    examples: held_out_examples(augment) when None (pass them in to reuse one rendering).
    """
    per_voice = {}
    for voice, sentence, example in examples if examples is not None else held_out_examples(augment):
        predicted = np.asarray(predict(example.waveform), dtype=np.float64)
        target = example.expression[:, JAW_OPEN].astype(np.float64)
        if predicted.shape != target.shape:
            raise RuntimeError(f"prediction has {predicted.shape} frames, target {target.shape}")
        entry = per_voice.setdefault(voice, {"r": [], "xcorr": np.zeros(2 * MAX_LAG + 1)})
        entry["r"].append(pearson(predicted, target))
        entry["xcorr"] += cross_correlation(predicted, target)
    report, total = {}, np.zeros(2 * MAX_LAG + 1)
    for voice, entry in per_voice.items():
        report[voice] = {"r": float(np.mean(entry["r"])), "r_min": float(np.min(entry["r"])),
                         "lag": int(np.argmax(entry["xcorr"]) - MAX_LAG)}
        total += entry["xcorr"]
    report["all"] = {"r": float(np.mean([v["r"] for v in report.values()])),
                     "r_min": float(np.min([v["r_min"] for v in report.values()])),
                     "lag": int(np.argmax(total) - MAX_LAG)}
    return report


def dit_predictor(checkpoint: str, options=None):
    """A predict(waveform) for evaluate(): features through the node's audio stage, then the DiT sampler.

    options: modit.dit.sampling.SamplingOptions; the default is MoDiT Sample Expression's defaults.
    """
    model, info = load_dit(checkpoint)
    schedule = NoiseSchedule(info.schedule)
    options = options or SamplingOptions()
    beta_0 = torch.zeros(info.config.expression_dim)  # the neutral face the corpus targets start from

    def predict(waveform: np.ndarray) -> np.ndarray:
        expression = sample_expression(model, schedule, audio_features(waveform), beta_0, options)  # [T, K]
        return expression[:, JAW_OPEN].numpy()

    return predict
