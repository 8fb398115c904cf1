"""Lip-sync evaluation of a DiT checkpoint on held-out synthetic voices and sentences (corpus/README.md).

    python -m modit.train.evaluate --checkpoint modit/weights/modit_embedded_v1.safetensors

Sampling defaults are those of MoDiT Sample Expression (DDIM, 10 steps, seed 0, guidance 2).

For every held-out voice (an accent and voice variants the corpus never uses) speaking every held-out
sentence (never produced by the corpus grammar), the script samples the model's expression curves and
compares its jaw_open curve with the corpus targets for that audio:
- r: Pearson correlation between predicted and target jaw_open over the utterance, all frames;
- lag: the shift in frames (predicted relative to target, + = the prediction is late) where the
  cross-correlation of the two mean-removed curves peaks, searched within +-MAX_LAG frames.
Reported per voice (mean r over its sentences, lag of the summed cross-correlation) and over everything.
The goal is r >= 0.8 and lag 0.
"""
import argparse
import json
import logging

import numpy as np

log = logging.getLogger(__name__)

# Accents and voice variants the training corpus never uses (modit/train/corpus/generate.py excludes them).
HELD_OUT_ACCENTS = ("en-gb-x-gbcwmd",)
HELD_OUT_VOICES = ("en-us+f4", "en+m6", "en-gb-scotland+Annie", "en-029+klatt3", "en-us-nyc+aunty",
                   "en-gb-x-gbcwmd+norbert")
# Sentences outside the corpus grammar's vocabulary and forms.
HELD_OUT_SENTENCES = (
    "Jupiter has more moons than any planet we know of.",
    "Please remember to water the tomatoes before you leave.",
    "Somebody ate all of the chocolate biscuits again!",
    "The orchestra played until the candles burned out.",
    "How much would a wooden boat like that cost today?",
    "My grandmother grew up by the sea in a tiny white cottage.",
    "Quiet, please. The movie is about to begin.",
    "Bubbles floated above the bath, popping one by one.",
    "We argued about politics, poetry and pizza until dawn.",
    "Would you open the window? It's awfully warm in here.",
    "Every autumn the maple leaves turn orange and red.",
    "I'm not sure, but maybe the bus was cancelled.",
)
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
    from .corpus.generate import run_in_fresh_processes

    # A fresh process: espeak's samples depend on what the process spoke before (corpus/espeak.py).
    return run_in_fresh_processes(_render_held_out, [augment], workers=1)[0]


def _render_held_out(augment: bool):
    import random

    from .corpus.generate import Voice, render_example

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
    from ..face.components import JAW_OPEN

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
    import torch

    from ..dit.checkpoint import load_dit
    from ..dit.sampling import SamplingOptions, sample_expression
    from ..dit.schedule import NoiseSchedule
    from ..face.components import JAW_OPEN
    from .corpus.generate import audio_features

    model, info = load_dit(checkpoint)
    schedule = NoiseSchedule(info.schedule)
    options = options or SamplingOptions()
    beta_0 = torch.zeros(info.config.expression_dim)  # the neutral face the corpus targets start from

    def predict(waveform: np.ndarray) -> np.ndarray:
        expression = sample_expression(model, schedule, audio_features(waveform), beta_0, options)  # [T, K]
        return expression[:, JAW_OPEN].numpy()

    return predict


def main(argv=None) -> None:
    from ..dit.sampling import SamplingOptions

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--sampler", default="ddim")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--guidance-scale", type=float, default=2.0, help="classifier-free guidance w (1 = off; 2 = the node default)")
    parser.add_argument("--augment", action="store_true", help="evaluate on augmented (noisy, reverberant) audio")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("modit.audio").setLevel(logging.WARNING)  # no per-utterance audio lines
    import torch

    torch.set_num_threads(1)
    options = SamplingOptions(sampler=args.sampler, num_steps=args.steps, seed=args.seed,
                              guidance_scale=args.guidance_scale)
    report = evaluate(dit_predictor(args.checkpoint, options), args.augment)
    for voice, figures in report.items():
        log.info("%-26s r %.3f (min %.3f)  lag %+d", voice, figures["r"], figures["r_min"], figures["lag"])
    print(json.dumps(report))  # the machine-readable result on stdout (this is a CLI)


if __name__ == "__main__":
    main()
