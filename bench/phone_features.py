"""Phone occupancy per video frame from a phone recogniser (PocketSphinx 5, its bundled en-us model; issue 14).

A recogniser trained on hundreds of hours of speech knows which phone is being said, whoever says it; our mel80
features must learn that from minutes of real speech. This module turns speech into a per-video-frame track
[T, 40]: row i holds the share of frame i's span [i / fps, (i + 1) / fps) covered by each of the 39 CMU phones and
SIL (rows sum to 1). The recogniser labels 10 ms frames with a phone-loop search ("allphone": the bundled phone
language model, no words). Its filler units (+NSN+ noise, +SPN+ spoken noise) and time it labels with nothing count
as SIL.

Long audio is decoded in pieces of `chunk_seconds` that overlap by `overlap_seconds`; each piece's labels are kept
from the middle of the overlap before it to the middle of the overlap after it, so an hour never becomes one
utterance (PocketSphinx holds a whole utterance's search) and each kept label had context on both sides. Each piece
is normalised by its own cepstral mean, so its labels are not those of a whole-clip decode everywhere (on the bundled
samples/speech.wav 78-86 % of 40 ms frames keep their main phone at 3-5 s pieces); a clip shorter than one piece is
decoded whole.

bench/phone_ceiling.py measured whether this track predicts real speakers' mouths better than mel80: it does not
(see modit/train/README.md), so no shipped DiT reads it. Needs `pip install pocketsphinx` (BSD, imported lazily).
"""
import logging
import os

import numpy as np

log = logging.getLogger(__name__)

PHONES = ("SIL", "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH",
          "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y",
          "Z", "ZH")
VISEMES = {  # the phones grouped by what the lips and jaw do
    "silence": ("SIL",), "lips_closed": ("P", "B", "M"), "lip_teeth": ("F", "V"), "tongue_teeth": ("TH", "DH"),
    "alveolar": ("T", "D", "N", "L"), "sibilant": ("S", "Z"), "postalveolar": ("SH", "ZH", "CH", "JH"),
    "back": ("K", "G", "NG", "HH", "Y"), "rounded_glide": ("R", "ER", "W"),
    "open_vowel": ("AA", "AE", "AH", "AY", "AW"), "spread_vowel": ("EH", "EY", "IH", "IY"),
    "rounded_vowel": ("AO", "OW", "OY", "UH", "UW"),
}
PHONE_RATE = 100  # recogniser frames per second (10 ms)
SAMPLE_RATE = 16000  # the acoustic model's rate
DEFAULT_LW = 2.0  # phone language-model weight
DEFAULT_PIP = 0.3  # phone insertion probability
CHUNK_SECONDS = 30.0
OVERLAP_SECONDS = 2.0


def _decoder(lw: float, pip: float):
    try:
        import pocketsphinx
    except ImportError as error:
        raise ImportError("phone features need PocketSphinx: `pip install pocketsphinx` (BSD; its wheel bundles the "
                          "en-us acoustic model and phone language model, nothing is downloaded)") from error
    model = pocketsphinx.get_model_path()
    return pocketsphinx.Decoder(allphone=os.path.join(model, "en-us", "en-us-phone.lm.bin"), lw=float(lw),
                                pip=float(pip), beam=1e-20, pbeam=1e-20, loglevel="ERROR")


def decode_segments(waveform_16k: np.ndarray, lw: float = DEFAULT_LW, pip: float = DEFAULT_PIP,
                    decoder=None) -> list[tuple[str, int, int]]:
    """[(phone, first 10 ms frame, last frame inclusive)] of a 16 kHz mono float waveform, as ONE utterance."""
    decoder = decoder or _decoder(lw, pip)
    pcm = (np.clip(np.asarray(waveform_16k, np.float32), -1, 1) * 32767).astype(np.int16).tobytes()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return [(s.word, int(s.start_frame), int(s.end_frame)) for s in decoder.seg()]


def phone_labels(segments: list[tuple[str, int, int]], num_labels: int) -> np.ndarray:
    """[num_labels] index into PHONES of each 10 ms frame; fillers and unlabelled frames are SIL (0)."""
    index = {p: i for i, p in enumerate(PHONES)}
    labels = np.zeros(num_labels, np.int64)
    for phone, first, last in segments:
        labels[max(first, 0):min(last + 1, num_labels)] = index.get(phone, 0)
    return labels


def decode_labels(waveform_16k: np.ndarray, lw: float = DEFAULT_LW, pip: float = DEFAULT_PIP,
                  chunk_seconds: float = CHUNK_SECONDS, overlap_seconds: float = OVERLAP_SECONDS) -> np.ndarray:
    """[ceil(S / 160)] phone index of every 10 ms frame of a 16 kHz waveform [S], decoded piece by piece."""
    step = SAMPLE_RATE // PHONE_RATE
    num_labels = -(-len(waveform_16k) // step)
    chunk = int(round(chunk_seconds * PHONE_RATE))
    overlap = int(round(overlap_seconds * PHONE_RATE))
    if not 0 <= overlap < chunk:
        raise ValueError(f"overlap_seconds {overlap_seconds} must be >= 0 and below chunk_seconds {chunk_seconds}")
    decoder = _decoder(lw, pip)
    labels = np.zeros(num_labels, np.int64)
    start = 0
    while True:
        stop = min(start + chunk, num_labels)
        piece = phone_labels(decode_segments(waveform_16k[start * step:stop * step], decoder=decoder), stop - start)
        keep_from = 0 if start == 0 else overlap // 2
        keep_to = stop - start if stop == num_labels else stop - start - (overlap - overlap // 2)
        labels[start + keep_from:start + keep_to] = piece[keep_from:keep_to]
        if stop == num_labels:
            return labels
        start = stop - overlap


def occupancy(labels: np.ndarray, num_frames: int, fps: float) -> np.ndarray:
    """10 ms phone labels -> [num_frames, 40] float32: share of each video frame's span covered by each phone.
    Frames past the labels' end are SIL."""
    ends = np.minimum(np.round(np.arange(1, num_frames + 1) * PHONE_RATE / fps).astype(np.int64), len(labels))
    out = np.zeros((num_frames, len(PHONES)), np.float32)
    video_of = np.searchsorted(ends, np.arange(len(labels)), side="right")  # video frame of each 10 ms label
    keep = video_of < num_frames
    np.add.at(out, (video_of[keep], labels[keep]), 1.0)
    counts = out.sum(1)
    out[counts == 0, 0] = 1.0  # no label inside the frame (past the end, or fps above 100): silence
    return out / out.sum(1, keepdims=True)


def viseme_matrix() -> np.ndarray:
    """[40, 12] 0/1: phone -> its viseme group (track @ matrix gives the viseme occupancy)."""
    matrix = np.zeros((len(PHONES), len(VISEMES)), np.float32)
    for j, members in enumerate(VISEMES.values()):
        for phone in members:
            matrix[PHONES.index(phone), j] = 1
    return matrix


def phone_track(waveform: np.ndarray, sample_rate: int, num_frames: int, fps: float, lw: float = DEFAULT_LW,
                pip: float = DEFAULT_PIP, chunk_seconds: float = CHUNK_SECONDS,
                overlap_seconds: float = OVERLAP_SECONDS) -> np.ndarray:
    """Mono speech [S] at sample_rate (sample 0 = frame 0's start) -> [num_frames, 40] phone occupancy."""
    import librosa

    wave = np.asarray(waveform, np.float32)
    if sample_rate != SAMPLE_RATE:
        wave = librosa.resample(wave, orig_sr=int(sample_rate), target_sr=SAMPLE_RATE).astype(np.float32)
    labels = decode_labels(wave, lw, pip, chunk_seconds, overlap_seconds)
    log.debug("phone track: %d labels, %d frames at %s fps", len(labels), num_frames, fps)
    return occupancy(labels, num_frames, fps)
