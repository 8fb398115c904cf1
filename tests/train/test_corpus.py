"""The speech corpus generator: espeak timings match the audio, targets follow the visemes, seeds reproduce."""
import random

import numpy as np
import pytest

pytest.importorskip("espeakng_loader", reason="the corpus generator needs espeak-ng (pip install espeakng-loader)")

from comfyui_modit.modit.face.components import COMPONENT_NAMES, JAW_OPEN  # noqa: E402
from comfyui_modit.modit.timing import frame_of_time  # noqa: E402
from comfyui_modit.modit.train import evaluate  # noqa: E402
from comfyui_modit.modit.train.corpus import augment, generate  # noqa: E402
from comfyui_modit.modit.train.corpus.sentences import make_sentences  # noqa: E402
from comfyui_modit.modit.train.corpus.visemes import strip_stress, visemes_of  # noqa: E402

FPS = generate.FPS
PRESS = COMPONENT_NAMES.index("lips_press")
ROUND = COMPONENT_NAMES.index("lip_round")


def _clean(text, voice="en-us", rate=150):
    return generate.render_example(text, generate.Voice(voice, rate, 50, 50, 0), random.Random(0), augment=False,
                                   lead=0.5, tail=0.3, vary=False)


def _frame_energy(waveform):
    per_frame = generate.SAMPLE_RATE // FPS
    return np.sqrt((waveform.reshape(-1, per_frame) ** 2).mean(axis=1))


@pytest.mark.parametrize("voice", ["en-us", "en+f3", "en-gb-scotland+m3"])
def test_energy_rises_at_vowel_start_within_one_frame(voice):
    example = _clean("Ah. Oh. Eat.", voice)
    energy = _frame_energy(example.waveform)
    threshold = 0.1 * energy.max()
    starts = [p for p in example.phonemes if visemes_of(p.name)[0] in ("AA", "OW", "IY")]
    assert len(starts) == 3
    for phoneme in starts:
        onset = frame_of_time(phoneme.start, FPS)
        before = max(onset - 6, 0)
        assert energy[before:onset - 1].max() < threshold, "the vowel should follow a silence"
        rise = before + int(np.argmax(energy[before:] > threshold))
        assert abs(rise - onset) <= 1, f"{phoneme.name}: energy rises at frame {rise}, espeak says {onset}"


def test_silence_gives_a_closed_relaxed_mouth():
    example = _clean("Ah.")
    speech_start = frame_of_time(example.phonemes[0].start, FPS)
    lead = example.expression[: speech_start - 4]  # the mouth may start to open 100-150 ms before the sound
    assert lead.shape[0] >= 5
    assert np.abs(lead).max() < 0.02
    assert np.abs(example.expression[-2:]).max() < 0.05


def _middle(phoneme):
    return frame_of_time(0.5 * (phoneme.start + phoneme.end), FPS)


def test_vowels_open_and_bilabials_close_the_mouth():
    example = _clean("Papa, mama.", rate=120)
    jaw, press = example.expression[:, JAW_OPEN], example.expression[:, PRESS]
    vowels = [_middle(p) for p in example.phonemes if p.name.startswith("'") and visemes_of(p.name) == ("AA",)]
    closures = [_middle(p) for p in example.phonemes if strip_stress(p.name) in ("p", "b", "m")]
    assert len(vowels) == 2 and len(closures) == 4
    assert min(jaw[f] for f in vowels) > 0.4
    assert max(jaw[f] for f in closures) < 0.15
    assert min(press[f] for f in closures) > 0.4


def test_coarticulation_is_smooth_and_anticipates_rounding():
    example = _clean("She said two.", rate=150)
    jaw = example.expression[:, JAW_OPEN]
    assert np.abs(np.diff(jaw)).max() < 0.3  # no step to a new pose in one frame
    u = [p for p in example.phonemes if strip_stress(p.name) == "u:"][0]
    before_onset = frame_of_time(u.start, FPS) - 2  # two frames (80 ms) before the vowel begins
    assert example.expression[before_onset, ROUND] > 0.2


def test_a_shard_is_the_same_every_time(tmp_path):
    texts = ["The baker found three apples.", "Oh no!", "Is the owl tiny or huge?"]
    jobs = [(str(tmp_path / f"{name}.npz"), 7, [0, 1, 2], texts) for name in ("a", "b")]
    generate.run_in_fresh_processes(generate._raw_shard, jobs, workers=2)
    a, b = np.load(jobs[0][0]), np.load(jobs[1][0])
    for key in ("waveform", "num_samples", "expression", "lengths"):
        assert np.array_equal(a[key], b[key]), key
    for num_samples, num_frames in zip(a["num_samples"], a["lengths"]):
        assert num_samples == generate.samples_for_frames(int(num_frames), generate.SAMPLE_RATE, FPS)
    assert a["expression"].shape == (a["lengths"].sum(), len(COMPONENT_NAMES))


def test_corpus_holds_out_evaluation_material():
    sentences = make_sentences(2000, 7, exclude=evaluate.HELD_OUT_SENTENCES)
    assert sentences == make_sentences(2000, 7, exclude=evaluate.HELD_OUT_SENTENCES)
    assert len(set(sentences)) == 2000
    assert not set(s.lower() for s in sentences) & set(s.lower() for s in evaluate.HELD_OUT_SENTENCES)
    voices = {generate.corpus_example(7, i, "Hi.").info["voice"]["name"] for i in range(40)}
    accents, variants, _ = generate.held_out()
    for voice in voices:
        accent, _, variant = voice.partition("+")
        assert accent not in accents and variant not in variants and voice not in evaluate.HELD_OUT_VOICES


def test_noise_is_added_at_the_requested_snr():
    rng = np.random.default_rng(0)
    speech = np.sin(np.linspace(0, 800 * np.pi, 16000)).astype(np.float32) * 0.3
    noisy = augment.add_noise(speech, 10.0, 1.0, rng)
    snr = 10 * np.log10((speech ** 2).mean() / ((noisy - speech) ** 2).mean())
    assert abs(snr - 10.0) < 0.5
    faster, time_scale = augment.change_speed(speech, 1.1)
    assert abs(faster.size - speech.size / 1.1) < 5 and abs(time_scale - 1 / 1.1) < 0.01


def test_evaluation_finds_a_known_lag_and_correlation():
    examples = evaluate.held_out_examples()
    targets = {id(e.waveform): e.expression[:, JAW_OPEN] for _, _, e in examples}
    assert len(examples) == len(evaluate.HELD_OUT_VOICES) * len(evaluate.HELD_OUT_SENTENCES)

    def late_by_two(waveform):
        target = targets[id(waveform)]
        return np.concatenate([np.zeros(2), target[:-2]])

    report = evaluate.evaluate(late_by_two, examples=examples)
    assert report["all"]["lag"] == 2 and all(report[v]["lag"] == 2 for v in evaluate.HELD_OUT_VOICES)
    exact = evaluate.evaluate(lambda waveform: targets[id(waveform)], examples=examples)
    assert exact["all"]["r"] > 0.999 and exact["all"]["lag"] == 0
