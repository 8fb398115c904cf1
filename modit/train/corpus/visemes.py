"""Phonemes -> visemes -> embedded-v1 expression targets with coarticulation (the corpus: README.md here).

Three steps turn espeak's timed phonemes into per-frame expression targets [T, K]:

1. `VISEME_OF_PHONEME` maps each espeak-ng English phoneme mnemonic (stress marks removed) to a viseme.
   Diphthongs map to two visemes, the first held for the first 55 % of the phoneme.
2. `VISEME_POSES` gives each viseme a target pose in the embedded-v1 space (modit/face/components.py), in
   the units of that space: jaw_open 1 is a shouted "ah", so conversational speech stays around 0.2..0.65.
3. Coarticulation blends the poses with dominance functions (Cohen & Massaro 1993, "Modeling
   coarticulation in synthetic visual speech"): every segment i pulls its channels toward its pose with
   dominance D_i(t) = a_i * exp(-(d_i(t) / w_i(t)) ** 2), where d_i is the distance from the middle half of
   the segment (zero inside it) and w_i grows with the segment's length, with a wider reach
   before the segment (anticipation) than after it (carry-over). The pose at time t is
   sum_i D_i(t) P_i / sum_i D_i(t). Bilabials have a strong, narrow dominance on the jaw and lips, so the lips
   really meet on p / b / m; h, k, g have weak jaw dominance and take the shape of their vowels; rounding
   reaches further ahead than the jaw does (anticipatory lip rounding). Silence is a segment too, with the
   all-zero pose: a closed, relaxed mouth.

Natural variation: each utterance draws a jaw and a lip scale (a speaker who opens wide, one who mumbles),
each phoneme a small multiplicative jitter, and stressed vowels open more than unstressed ones.

Viseme table (jaw = jaw_open, round = lip_round, stretch = lip_stretch, press = lips_press, upper = upper_lip_raise,
lower = lower_lip_drop):

| viseme | phonemes (espeak)                    | pose                                   |
|--------|--------------------------------------|----------------------------------------|
| SIL    | _ _: _! pauses, silence              | all zero: closed, relaxed              |
| PBM    | p b m                                | jaw 0, press 0.8                       |
| FV     | f v                                  | jaw 0.08, upper 0.35, lower -0.2       |
| TH     | T D                                  | jaw 0.14, stretch 0.1                  |
| TDN    | t d n l t# t[ d# ? N                 | jaw 0.18, stretch 0.12                 |
| SZ     | s z                                  | jaw 0.08, stretch 0.3                  |
| SH     | S Z tS dZ                            | jaw 0.12, round 0.45, upper 0.15       |
| KG     | k g x h                              | jaw 0.24                               |
| R      | r                                    | jaw 0.14, round 0.35                   |
| W      | w                                    | jaw 0.05, round 0.8                    |
| Y      | j ; (linking glide)                  | jaw 0.1, stretch 0.3                   |
| AA     | A: a# aa V A@ (and the start of aI aU)| jaw 0.62                               |
| AE     | a                                    | jaw 0.52, stretch 0.2                  |
| EH     | E e e@ (start of eI)                 | jaw 0.4, stretch 0.25                  |
| IY     | i i: I I# I2 i@ (end of aI eI OI)    | jaw 0.18, stretch 0.5                  |
| AO     | O: O@ 0 o@ O (start of OI)           | jaw 0.5, round 0.45                    |
| OW     | oU o (start)                         | jaw 0.38, round 0.55                   |
| UW     | u: U U@ (end of aU oU)               | jaw 0.15, round 0.8                    |
| ER     | 3: 3 @r                              | jaw 0.28, round 0.25                   |
| AX     | @ @L @2 @5 and unknown vowels        | jaw 0.3                                |
"""
import math
import random
from dataclasses import dataclass

import numpy as np

from ...face.components import COMPONENT_NAMES, NUM_COMPONENTS

_POSE_VALUES = {
    "SIL": {},
    "PBM": {"jaw_open": 0.0, "lips_press": 0.8},
    "FV": {"jaw_open": 0.08, "upper_lip_raise": 0.35, "lower_lip_drop": -0.2},
    "TH": {"jaw_open": 0.14, "lip_stretch": 0.1},
    "TDN": {"jaw_open": 0.18, "lip_stretch": 0.12},
    "SZ": {"jaw_open": 0.08, "lip_stretch": 0.3},
    "SH": {"jaw_open": 0.12, "lip_round": 0.45, "upper_lip_raise": 0.15},
    "KG": {"jaw_open": 0.24},
    "R": {"jaw_open": 0.14, "lip_round": 0.35},
    "W": {"jaw_open": 0.05, "lip_round": 0.8},
    "Y": {"jaw_open": 0.1, "lip_stretch": 0.3},
    "AA": {"jaw_open": 0.62},
    "AE": {"jaw_open": 0.52, "lip_stretch": 0.2},
    "EH": {"jaw_open": 0.4, "lip_stretch": 0.25},
    "IY": {"jaw_open": 0.18, "lip_stretch": 0.5},
    "AO": {"jaw_open": 0.5, "lip_round": 0.45},
    "OW": {"jaw_open": 0.38, "lip_round": 0.55},
    "UW": {"jaw_open": 0.15, "lip_round": 0.8},
    "ER": {"jaw_open": 0.28, "lip_round": 0.25},
    "AX": {"jaw_open": 0.3},
}


def _pose(values: dict) -> np.ndarray:
    pose = np.zeros(NUM_COMPONENTS, np.float32)
    for name, value in values.items():
        pose[COMPONENT_NAMES.index(name)] = value
    return pose


VISEME_POSES = {viseme: _pose(values) for viseme, values in _POSE_VALUES.items()}  # viseme -> [K] float32
VOWEL_VISEMES = ("AA", "AE", "EH", "IY", "AO", "OW", "UW", "ER", "AX")

VISEME_OF_PHONEME = {
    "_": ("SIL",), "_:": ("SIL",), "_!": ("SIL",), "_|": ("SIL",), "||": ("SIL",), "|": ("SIL",),
    "p": ("PBM",), "b": ("PBM",), "m": ("PBM",),
    "f": ("FV",), "v": ("FV",),
    "T": ("TH",), "D": ("TH",),
    "t": ("TDN",), "d": ("TDN",), "n": ("TDN",), "l": ("TDN",), "t#": ("TDN",), "d#": ("TDN",),
    "?": ("TDN",), "N": ("TDN",), "n-": ("TDN",), "l/": ("TDN",), "l#": ("TDN",),
    "s": ("SZ",), "z": ("SZ",),
    "S": ("SH",), "Z": ("SH",), "tS": ("SH",), "dZ": ("SH",),
    "k": ("KG",), "g": ("KG",), "x": ("KG",), "h": ("KG",),
    "r": ("R",), "r-": ("R",), "w": ("W",), "j": ("Y",), ";": ("Y",), "t[": ("TDN",),
    "A:": ("AA",), "a#": ("AA",), "aa": ("AA",), "V": ("AA",), "A@": ("AA",), "A": ("AA",), "VR": ("AA",),
    "a": ("AE",),
    "E": ("EH",), "e": ("EH",), "e@": ("EH",),
    "i": ("IY",), "i:": ("IY",), "I": ("IY",), "I#": ("IY",), "I2": ("IY",), "i@": ("IY",), "i@3": ("IY",),
    "O:": ("AO",), "O@": ("AO",), "0": ("AO",), "0#": ("AO",), "o@": ("AO",), "O": ("AO",), "O2": ("AO",),
    "oU": ("OW", "UW"), "o": ("OW",), "oU#": ("OW", "UW"),
    "u:": ("UW",), "U": ("UW",), "U@": ("UW",), "u": ("UW",),
    "3:": ("ER",), "3": ("ER",), "@r": ("ER",),
    "@": ("AX",), "@L": ("AX",), "@2": ("AX",), "@5": ("AX",),
    "aI": ("AA", "IY"), "aI2": ("AA", "IY"), "aU": ("AA", "UW"), "eI": ("EH", "IY"), "OI": ("AO", "IY"),
    "aI@": ("AA", "AX"), "aI3": ("AA", "ER"), "aU@": ("AA", "AX"),
}
_VOWEL_LETTERS = set("aeiouAEIOUV03@")
_STRESS_MARKS = "'," "%="


@dataclass(frozen=True)
class Dominance:
    """How strongly a viseme holds its channels and how far it reaches (seconds beyond its half-length)."""

    jaw: float  # strength a_i on jaw_open and the vertical channels
    lips: float  # strength on the lip-shape channels (round, stretch, press, upper/lower lip)
    before: float  # anticipation reach
    after: float  # carry-over reach


_DOMINANCE = {
    "SIL": Dominance(1.0, 1.0, 0.05, 0.05),
    "PBM": Dominance(4.0, 4.0, 0.025, 0.02),
    "FV": Dominance(2.0, 3.0, 0.03, 0.025),
    "TH": Dominance(0.8, 0.8, 0.03, 0.03),
    "TDN": Dominance(0.5, 0.4, 0.035, 0.03),
    "SZ": Dominance(1.0, 1.0, 0.03, 0.03),
    "SH": Dominance(1.0, 1.5, 0.05, 0.03),
    "KG": Dominance(0.2, 0.15, 0.04, 0.03),
    "R": Dominance(0.5, 1.0, 0.06, 0.03),
    "W": Dominance(0.8, 2.0, 0.09, 0.03),
    "Y": Dominance(0.6, 0.8, 0.04, 0.03),
}
_VOWEL_DOMINANCE = Dominance(1.0, 1.0, 0.05, 0.04)
_ROUNDING_REACH = 0.06  # extra anticipation of lip rounding (it starts up to ~150 ms before the vowel)

_JAW_CHANNELS = np.array([name in ("jaw_open", "lower_lip_drop") for name in COMPONENT_NAMES])
_ROUND = COMPONENT_NAMES.index("lip_round")


def strip_stress(name: str) -> str:
    return name.lstrip(_STRESS_MARKS).rstrip(_STRESS_MARKS)


def visemes_of(name: str) -> tuple:
    """The viseme(s) of one espeak phoneme mnemonic; unknown phonemes fall back by their first letter."""
    base = strip_stress(name)
    if base in VISEME_OF_PHONEME:
        return VISEME_OF_PHONEME[base]
    if base.rstrip("#") in VISEME_OF_PHONEME:
        return VISEME_OF_PHONEME[base.rstrip("#")]
    if base and base[0] in _VOWEL_LETTERS:
        return ("AX",)
    if base and base[0] in "_|":
        return ("SIL",)
    return ("TDN",)


@dataclass(frozen=True)
class Segment:
    viseme: str
    start: float  # seconds
    end: float
    gain: float  # multiplies the pose (stress, jitter, speaker scale on the jaw)


def segments_of(phonemes, duration: float, rng: random.Random | None = None) -> list[Segment]:
    """Viseme segments covering [0, duration): silence before, between (pauses) and after the phonemes.

    phonemes: objects with .name, .start, .end in seconds (espeak.Phoneme). With `rng`, stress and
    per-phoneme jitter vary the gain; without it every gain is 1.
    """
    segments = []
    cursor = 0.0
    for phoneme in phonemes:
        if phoneme.start > cursor + 1e-4:
            segments.append(Segment("SIL", cursor, phoneme.start, 1.0))
        visemes = visemes_of(phoneme.name)
        stressed = phoneme.name.startswith("'")
        unstressed = not phoneme.name.startswith(("'", ","))
        bounds = [phoneme.start, phoneme.end] if len(visemes) == 1 else \
            [phoneme.start, phoneme.start + 0.55 * (phoneme.end - phoneme.start), phoneme.end]
        for viseme, start, end in zip(visemes, bounds[:-1], bounds[1:]):
            gain = 1.0
            if rng is not None and viseme != "SIL":
                gain = max(0.6, rng.gauss(1.0, 0.08))
                if viseme in VOWEL_VISEMES:
                    gain *= 1.12 if stressed else (0.9 if unstressed else 1.0)
            segments.append(Segment(viseme, start, max(end, start + 1e-3), gain))
        cursor = max(cursor, phoneme.end)
    if duration > cursor + 1e-4:
        segments.append(Segment("SIL", cursor, duration, 1.0))
    return segments


def expression_targets(segments: list[Segment], num_frames: int, fps: float, jaw_scale: float = 1.0,
                       lip_scale: float = 1.0, resolution: float = 0.002) -> np.ndarray:
    """Per-frame embedded-v1 targets [T, K] float32 by dominance blending (see the module docstring).

    Frame i is the mean pose over its span [i/fps, (i+1)/fps), sampled every `resolution` seconds.
    jaw_scale, lip_scale: per-speaker amplitude of the jaw and lip channels.
    """
    per_frame = max(1, int(round(1.0 / (fps * resolution))))
    times = (np.arange(num_frames * per_frame) + 0.5) / (per_frame * fps)  # [T * per_frame] seconds
    numerator = np.zeros((times.size, NUM_COMPONENTS))
    denominator = np.zeros((times.size, NUM_COMPONENTS))
    for segment in segments:
        dominance = _DOMINANCE.get(segment.viseme, _VOWEL_DOMINANCE)
        pose = VISEME_POSES[segment.viseme] * segment.gain
        centre = 0.5 * (segment.start + segment.end)
        half = 0.5 * (segment.end - segment.start)
        offset = times - centre  # < 0 before the segment's centre
        # Full dominance over the middle half of the segment, decaying outside it; a long pause thus keeps
        # the mouth closed all through, not only around its centre.
        distance = np.maximum(np.abs(offset) - 0.5 * half, 0.0)
        for lips in (False, True):
            strength = dominance.lips if lips else dominance.jaw
            before = dominance.before + (_ROUNDING_REACH if lips and pose[_ROUND] > 0.3 else 0.0)
            reach = np.where(offset < 0, 0.5 * half + before, 0.5 * half + dominance.after)
            weight = strength * np.exp(-(distance / reach) ** 2)
            channels = _JAW_CHANNELS if not lips else ~_JAW_CHANNELS
            numerator[:, channels] += weight[:, None] * pose[channels]
            denominator[:, channels] += weight[:, None]
    blended = numerator / np.maximum(denominator, 1e-8)  # [T * per_frame, K]
    blended = blended.reshape(num_frames, per_frame, NUM_COMPONENTS).mean(axis=1)  # [T, K]
    blended[:, _JAW_CHANNELS] *= jaw_scale
    blended[:, ~_JAW_CHANNELS] *= lip_scale
    return blended.astype(np.float32)


def speaker_scales(rng: random.Random) -> tuple[float, float]:
    """(jaw_scale, lip_scale) of one simulated speaker: some open wide, some barely move their lips."""
    return rng.uniform(0.75, 1.25), rng.uniform(0.75, 1.25)


def _first_frame_at(seconds: float, fps: float) -> int:
    return int(math.floor(seconds * fps))
