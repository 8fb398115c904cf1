"""The portrait's own mouth against speakers': the jaw in speech for lips together, the resting mouth for a mouth
caught open.

The DiT reads how open its reference is only weakly (bench/reference_level.py: on the val shards, sampled from a
speaker's rest frame it opens 0.4x as far as the speaker, from an open frame it hardly closes; slope 0.22 where the
speakers' is 1). Two corrections follow, one at each end.

Sampled around a closed mouth, the DiT keeps the jaw near the portrait's own while the speaker talks: over the first
4 s of 11 real talking clips whose first frame has its lips together (bench/gallery.py --real, with and without
--held-out), the jaw the face stack tracks in the real video sits a median 0.15 above the first frame's, the DiT's
0.06. The renderer shows the opening the tracker reads (bench/reenact_opening.py: 0.85-0.95 of it over the 61
clips), so on 12 such clips the rendered mouth opened a median 0.44x as far as the speaker's (dlib) and sat closed
on 2-4x as many frames. Portraits with their lips apart agree with the real tracks (median difference 0.00) and are
left alone.

While the audio carries speech, the jaw of a closed-lip portrait is lifted by up to SPEECH_LIFT times the speech
activity (audio/loudness.py) times how far the frame rises over the recording's own floor, smoothed over a few frames:
about half of the gap, so the lips still meet on quiet sounds and the quick articulation stays the DiT's. Pauses,
silence and steady noise (which the speech activity alone reads as speech) keep the sampled mouth, and with it the
portrait's own. On those 12 clips the rendered mouth then opens a median 0.54x as far as the speaker's (0.44x
without); 0.1 closed more of the gap but moved the gallery's meters further (README, stop 58).

A portrait caught with its mouth wide open over a dark interior (a frame grabbed mid-word or mid-shout, no teeth
showing) is the other end: sampled around it, the mouth seldom closes (VoxCeleb2 00015, LRS2 00002 and VisualVoice's
noisy_restaurant: dlib's median opening 1.4-2.5x the speaker's). caught_open says how far a portrait is such a mouth,
and MoDiT Sample Expression brings its lips part of the way together before sampling (face/expression.py:
close_parted_lips). Smiles that show their teeth read 0: closed over their teeth, they look less like the person
(README, stop 45).
"""
import numpy as np
import torch

from ..audio.loudness import activity_of_level, frame_level
from ..data.tracking import mouth_opening
from ..motion.filters import gaussian_smooth
from ..types import AudioFeatures

SPEECH_LIFT = 0.07  # jaw_open (embedded-v1) added at full speech activity: the nodes' default
MAX_LIFT = 0.3  # the most a user may ask for: a mouth about half as wide as the widest speech opening
LIPS_TOGETHER = (0.03, 0.08)  # lips apart (data/tracking.py: mouth_opening, the inner-lip gap over the outer eye
# corners' distance): lifted fully up to the first, not at all from the second (the tracker reads lips that touch at
# 0.00-0.04, a mouth caught mid-word at 0.10-0.21)
ACTIVITY_SIGMA = 2.0  # frames at 25 fps: the lift follows words and pauses, not single loud frames
ABOVE_FLOOR_DB = (4.0, 12.0)  # a frame's level over the recording's floor (its FLOOR_PERCENTILE): no lift up to the
# first, full lift from the second. Steady noise (room tone, hum, a fan) sits at its own floor and never lifts the
# jaw, however loud; speech rises 20-40 dB over its pauses
FLOOR_PERCENTILE = 10.0
CAUGHT_OPEN = (0.12, 0.18)  # lips apart (mouth_opening, as LIPS_TOGETHER): a mouth with no teeth showing counts as
# caught open from the first, fully from the second. Of the 91 gallery and talking-clip sources, three reach the second
# (00002, 00015, noisy_restaurant) and one passes the first (741400163, 0.13); uncrop_Obama, whose lips dlib reads
# nearly closed, reads 0.10
TEETH_SHOWING = (0.25, 0.75)  # the renderer's shows_teeth over which a mouth stops counting as dark (the gallery's
# smiles read 1.00, feifeili_clip2_short 0.89; the dark open mouths 0.00-0.15)
CLOSE_CAUGHT_OPEN = 0.5  # the nodes' default share of close_parted_lips for such a mouth (0.5 suited them, stop 45)


def lips_apart(landmarks: torch.Tensor) -> float:
    """The portrait's inner-lip gap over its outer eye corners' distance (data/tracking.py: mouth_opening), landmarks
    [468, 2+] in any pixel frame."""
    return float(mouth_opening(landmarks.detach().cpu().double().numpy()))


def lips_together(landmarks: torch.Tensor) -> float:
    """1 for a portrait whose lips are together, falling to 0 where they are apart (LIPS_TOGETHER)."""
    low, high = LIPS_TOGETHER
    return float(np.clip((high - lips_apart(landmarks)) / (high - low), 0.0, 1.0))


def above_floor(level: np.ndarray) -> np.ndarray:
    """[T] 0..1 per frame: how far its level (dBFS, audio/loudness.py: frame_level) rises over the recording's floor
    (ABOVE_FLOOR_DB)."""
    low, high = ABOVE_FLOOR_DB
    return np.clip((level - np.percentile(level, FLOOR_PERCENTILE) - low) / (high - low), 0.0, 1.0)


def speech_lift(features: AudioFeatures, landmarks: torch.Tensor, lift: float = SPEECH_LIFT) -> torch.Tensor:
    """[T] jaw_open to add: lift x speech activity x its rise over the floor (smoothed) for a closed-lip portrait,
    zeros for one with its lips apart, in silence or in steady noise."""
    T = features.num_frames
    together = lips_together(landmarks)
    if together == 0 or lift == 0 or T == 0:
        return torch.zeros(T)
    level = frame_level(features.samples, features.sample_rate, features.fps, T)  # the recording read once
    activity = activity_of_level(level).numpy() * above_floor(level)
    activity = gaussian_smooth(activity, ACTIVITY_SIGMA * features.fps / 25.0)
    return torch.from_numpy(lift * together * activity).float()


def caught_open(landmarks: torch.Tensor, shows_teeth: float) -> float:
    """0..1: how far a portrait's mouth is caught open over a dark interior: its lips apart beyond CAUGHT_OPEN, and
    no teeth showing (shows_teeth 0..1, render/renderer.py portrait_mouth: what the renderer finds there; from
    TEETH_SHOWING[0] the share falls, at TEETH_SHOWING[1] it is 0)."""
    low, high = CAUGHT_OPEN
    teeth = float(np.clip((shows_teeth - TEETH_SHOWING[0]) / (TEETH_SHOWING[1] - TEETH_SHOWING[0]), 0.0, 1.0))
    apart = float(np.clip((lips_apart(landmarks) - low) / (high - low), 0.0, 1.0))
    return apart * (1.0 - teeth * teeth * (3.0 - 2.0 * teeth))
