"""Generate the synthetic speech corpus that trains the embedded DiT (corpus/README.md), deterministic from a seed.

    python -m modit_app corpus --out corpus/ --seed 6 --utterances 4000

Per utterance: a sentence from `sentences.make_sentences`, spoken by espeak-ng (`espeak.Speaker`) with a
random English accent and voice variant, rate, pitch and pitch range; resampled to 16 kHz; sometimes sped
up or slowed down; silence added before and after; augmented (`augment.augment`); and its phoneme timings
turned into embedded-v1 expression targets at 25 fps (`visemes`). The voices and sentences of
`modit/train/held_out.py` (what `evaluate.py` speaks) never appear here.

Two stages, both resumable:
1. raw shards, `OUT/raw/raw-NNNNN.npz`: 16 kHz audio and targets (no audio model needed);
2. training shards, `OUT/shard-NNNNN.safetensors`, the format `python -m modit_app train --data OUT` reads:
   `features` [sumT, D] from the same audio stage the Encode Audio node uses (`audio_features` below),
   `expression` [sumT, K], `beta_0` [U, K] (zeros: the source face is neutral), `lengths` [U] int64, and
   metadata {"feature_kind", "feature_dim", "fps", "space", "corpus_seed", ...}.
Every random choice for utterance i is drawn from (seed, i). espeak's own samples also depend on what the
process spoke before (see espeak.py), so each shard is made in a fresh process that spoke nothing before:
the corpus is the same for a given (seed, utterances, shard size), whatever the number of workers.
"""
import glob
import json
import logging
import math
import os
import random
from dataclasses import dataclass

import numpy as np
import torch

from ...checkpoints import save_checkpoint
from ...face.components import NUM_COMPONENTS, SPACE_NAME
from ...timing import frames_for_samples, samples_for_frames
from ..held_out import HELD_OUT_ACCENTS, HELD_OUT_SENTENCES, held_out_variants
from . import augment as augmentation
from .espeak import Speaker, Phoneme
from .sentences import make_sentences
from .visemes import expression_targets, segments_of, speaker_scales

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # the rate the audio stage works at; resampling here keeps the node's path identical
FPS = 25
FEATURE_KIND = "mel80"

ACCENTS = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd")
# espeak's voice variants ("en-us+f3"), minus whispers (no voicing) and one name with a space.
VARIANTS = ("", "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Demonic", "Denis", "Diogo", "Gene",
            "Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Nguyen", "Reed",
            "RicishayMax", "RicishayMax2", "RicishayMax3", "Storm", "Tweaky", "UniRobot", "adam", "anika",
            "anikaRobot", "announcer", "antonio", "aunty", "belinda", "benjamin", "boris", "caleb", "croak", "david",
            "ed", "edward", "edward2", "f1", "f2", "f3", "f4", "f5", "fast", "grandma", "grandpa", "gustave", "ian",
            "iven", "iven2", "iven3", "iven4", "john", "kaukovalta", "klatt", "klatt2", "klatt3", "klatt4",
            "klatt5", "klatt6", "linda", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "marcelo", "max", "michel",
            "miguel", "mike2", "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert", "robosoft",
            "robosoft2", "robosoft3", "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8", "sandro",
            "shelby", "steph", "steph2", "steph3", "travis", "victor", "zac")


def voice_name(accent: str, variant: str) -> str:
    return f"{accent}+{variant}" if variant else accent


def held_out():
    """(held-out accents, held-out variants, held-out sentences), as named in modit/train/held_out.py."""
    return set(HELD_OUT_ACCENTS), held_out_variants(), HELD_OUT_SENTENCES


@dataclass(frozen=True)
class Voice:
    """How espeak speaks one utterance."""

    name: str  # "en-us+f3"
    rate: int  # words per minute
    pitch: int  # 0..100
    pitch_range: int  # 0..100
    word_gap: int  # extra pause between words, in 10 ms units


def random_voice(rng: random.Random, accents, variants) -> Voice:
    rate = int(round(math.exp(rng.uniform(math.log(110), math.log(320)))))
    word_gap = 0 if rng.random() < 0.8 else rng.randint(1, 8)
    return Voice(voice_name(rng.choice(accents), rng.choice(variants)), rate, rng.randint(5, 95),
                 rng.randint(0, 100), word_gap)


@dataclass(frozen=True)
class Example:
    """One corpus utterance: 16 kHz audio exactly covering T frames and its targets."""

    waveform: np.ndarray  # [S] float32, S == samples_for_frames(T, 16000, 25)
    expression: np.ndarray  # [T, K] float32 embedded-v1 targets
    phonemes: tuple  # of espeak.Phoneme, times in seconds on `waveform`
    info: dict  # text, voice and augmentation settings


def render_example(text: str, voice: Voice, rng: random.Random, augment: bool = True, speed: float = 1.0,
                   lead: float = 0.3, tail: float = 0.3, vary: bool = True) -> Example:
    """Speak `text`, pad with `lead` / `tail` seconds of silence, optionally change speed and augment."""
    spoken = Speaker.get().speak(text, voice.name, voice.rate, voice.pitch, voice.pitch_range, voice.word_gap)
    from scipy.signal import resample_poly

    gcd = math.gcd(SAMPLE_RATE, spoken.sample_rate)
    waveform = resample_poly(spoken.waveform, SAMPLE_RATE // gcd, spoken.sample_rate // gcd).astype(np.float32)
    waveform, time_scale = augmentation.change_speed(waveform, speed)
    lead_samples, tail_samples = int(lead * SAMPLE_RATE), int(tail * SAMPLE_RATE)
    waveform = np.concatenate([np.zeros(lead_samples, np.float32), waveform, np.zeros(tail_samples, np.float32)])
    shift = lead_samples / SAMPLE_RATE
    phonemes = tuple(Phoneme(p.name, p.start * time_scale + shift, p.end * time_scale + shift)
                     for p in spoken.phonemes)
    settings = {}
    if augment:
        waveform, settings = augmentation.augment(waveform, SAMPLE_RATE, np.random.default_rng(rng.getrandbits(32)))
    else:
        waveform = augmentation.set_level(waveform, -3.0)
    num_frames = frames_for_samples(waveform.size, SAMPLE_RATE, FPS)
    waveform = np.pad(waveform, (0, samples_for_frames(num_frames, SAMPLE_RATE, FPS) - waveform.size))
    jaw_scale, lip_scale = speaker_scales(rng) if vary else (1.0, 1.0)
    segments = segments_of(phonemes, num_frames / FPS, rng if vary else None)
    expression = expression_targets(segments, num_frames, FPS, jaw_scale, lip_scale)
    info = {"text": text, "voice": voice.__dict__, "speed": speed, "lead": lead, "tail": tail,
            "jaw_scale": jaw_scale, "lip_scale": lip_scale, **settings}
    return Example(waveform.astype(np.float32), expression, phonemes, info)


def corpus_example(seed: int, index: int, text: str) -> Example:
    """Utterance `index` of the training corpus of `seed`: everything random is drawn from (seed, index)."""
    rng = random.Random(f"modit-corpus-{seed}-{index}")
    held_accents, held_variants, _ = held_out()
    accents = [a for a in ACCENTS if a not in held_accents]
    variants = [v for v in VARIANTS if v not in held_variants]
    voice = random_voice(rng, accents, variants)
    speed = rng.uniform(0.9, 1.1) if rng.random() < 0.3 else 1.0
    lead, tail = rng.uniform(0.05, 0.8), rng.uniform(0.1, 0.8)
    return render_example(text, voice, rng, augment=rng.random() > 0.2, speed=speed, lead=lead, tail=tail)


# ---------------------------------------------------------------------------------------------------------------
# Stage 1: raw shards


def _raw_shard(args) -> str:
    path, seed, indices, texts = args
    if os.path.exists(path):
        return path
    Speaker.get().seed_random(seed * 100003 + indices[0])
    examples = [corpus_example(seed, i, text) for i, text in zip(indices, texts)]
    np.savez(path + ".partial.npz",
             waveform=np.concatenate([e.waveform for e in examples]),
             num_samples=np.array([e.waveform.size for e in examples], np.int64),
             expression=np.concatenate([e.expression for e in examples]),
             lengths=np.array([e.expression.shape[0] for e in examples], np.int64),
             info=np.array([json.dumps({"index": i, **e.info}) for i, e in zip(indices, examples)]))
    os.replace(path + ".partial.npz", path)
    return path


def generate_raw(out: str, seed: int, num_utterances: int, shard_size: int, workers: int) -> list[str]:
    _, _, held_sentences = held_out()
    texts = make_sentences(num_utterances, seed, exclude=held_sentences)
    os.makedirs(os.path.join(out, "raw"), exist_ok=True)
    jobs = []
    for shard, first in enumerate(range(0, num_utterances, shard_size)):
        indices = list(range(first, min(first + shard_size, num_utterances)))
        path = os.path.join(out, "raw", f"raw-{shard:05d}.npz")
        jobs.append((path, seed, indices, [texts[i] for i in indices]))
    paths = run_in_fresh_processes(_raw_shard, jobs, workers)
    log.info("raw shards ready: %d in %s", len(paths), os.path.join(out, "raw"))
    return paths


def run_in_fresh_processes(function, jobs, workers: int) -> list:
    """[function(job) for job in jobs], each call in its own forked process (espeak state starts afresh)."""
    import multiprocessing

    results = []
    # maxtasksperchild=1: one shard per process, so no shard inherits another's espeak state.
    with multiprocessing.get_context("fork").Pool(workers, maxtasksperchild=1) as pool:
        for result in pool.imap(function, jobs):
            results.append(result)
            log.debug("job %d of %d done", len(results), len(jobs))
    return results


# ---------------------------------------------------------------------------------------------------------------
# Stage 2: features through the node's own audio stage


def audio_features(waveform: np.ndarray) -> torch.Tensor:
    """mel80 features [T, D] float32 of a 16 kHz waveform, through the code path of MoDiT Encode Audio."""
    from ...audio.encoder import AudioEncoder

    audio = {"waveform": torch.from_numpy(waveform).reshape(1, 1, -1), "sample_rate": SAMPLE_RATE}
    encoded = AudioEncoder.builtin_mel().encode(audio, fps=FPS)
    if encoded.kind != FEATURE_KIND:
        raise RuntimeError(f"the built-in audio encoder gives {encoded.kind!r} features, the corpus expects "
                           f"{FEATURE_KIND!r}")
    return encoded.features.float().cpu()


def featurize(raw_path: str, out_path: str, seed: int) -> str:
    if os.path.exists(out_path):
        return out_path
    raw = np.load(raw_path)
    waveforms = np.split(raw["waveform"], np.cumsum(raw["num_samples"])[:-1])
    lengths = raw["lengths"]
    features = []
    for waveform, length in zip(waveforms, lengths):
        feature = audio_features(waveform)
        if feature.shape[0] != length:
            raise RuntimeError(f"{raw_path}: audio stage gave {feature.shape[0]} frames for an utterance of "
                               f"{length} frames ({waveform.size} samples at {SAMPLE_RATE} Hz, {FPS} fps)")
        features.append(feature)
    features = torch.cat(features)
    tensors = {"features": features, "expression": torch.from_numpy(raw["expression"]),
               "beta_0": torch.zeros(len(lengths), NUM_COMPONENTS), "lengths": torch.from_numpy(lengths)}
    metadata = {"feature_kind": FEATURE_KIND, "feature_dim": int(features.shape[1]), "fps": FPS,
                "space": SPACE_NAME, "corpus_seed": seed, "sample_rate": SAMPLE_RATE,
                "utterances": [json.loads(s) for s in raw["info"]]}
    save_checkpoint(out_path, tensors, metadata)
    return out_path


def _featurize_job(job) -> str:
    torch.set_num_threads(1)  # one thread per worker: torch's thread pool thrashes on a busy 2-core machine
    return featurize(*job)


def generate_corpus(out: str, seed: int = 6, utterances: int = 4000, shard_size: int = 250, workers: int = 2,
                    raw_only: bool = False) -> list[str]:
    """Both stages into `out`; returns the training shards' paths (the raw shards' with raw_only). Resumable."""
    raw_paths = generate_raw(out, seed, utterances, shard_size, workers)
    if raw_only:
        return raw_paths
    jobs = [(raw_path, os.path.join(out, os.path.basename(raw_path).replace("raw-", "shard-")
                                    .replace(".npz", ".safetensors")), seed) for raw_path in sorted(raw_paths)]
    shards = run_in_fresh_processes(_featurize_job, jobs, workers)
    log.info("corpus ready: %d shards in %s", len(glob.glob(os.path.join(out, "shard-*.safetensors"))), out)
    return shards
