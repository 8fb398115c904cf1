"""Phone occupancy per video frame (bench/phone_features.py, bench-only): shares, silence, piece-by-piece decoding, the clear
error without PocketSphinx. The recogniser tests read the bundled samples/speech.wav and skip without pocketsphinx."""
import os
import sys

import numpy as np
import pytest

from ..bench_files import load_bench_module

phones = load_bench_module("phone_features")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIL, AA, M = (phones.PHONES.index(p) for p in ("SIL", "AA", "M"))


def test_rows_are_the_shares_of_each_frame_covered_by_each_phone():
    labels = np.array([SIL] * 4 + [AA, AA, M, M] + [AA] * 3 + [M])
    track = phones.occupancy(labels, 4, 25.0)  # frame 3 lies past the labels' end
    assert track.shape == (4, len(phones.PHONES)) and track.dtype == np.float32
    np.testing.assert_allclose(track.sum(1), 1.0, atol=1e-6)
    assert track[0, SIL] == 1.0
    assert track[1, AA] == pytest.approx(0.5) and track[1, M] == pytest.approx(0.5)
    assert track[2, AA] == pytest.approx(0.75) and track[2, M] == pytest.approx(0.25)
    assert track[3, SIL] == 1.0


@pytest.mark.parametrize("fps", [24.0, 30.0, 29.97, 60.0, 200.0])
def test_any_frame_rate_gives_shares_that_sum_to_one(fps):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, len(phones.PHONES), 1234)
    frames = int(len(labels) / phones.PHONE_RATE * fps)
    track = phones.occupancy(labels, frames, fps)
    assert track.shape == (frames, len(phones.PHONES))
    np.testing.assert_allclose(track.sum(1), 1.0, atol=1e-5)
    assert (track >= 0).all()


def test_fillers_and_unlabelled_time_are_silence():
    labels = phones.phone_labels([("+NSN+", 0, 3), ("AA", 4, 5), ("+SPN+", 8, 9)], 12)
    assert labels.tolist() == [SIL] * 4 + [AA, AA] + [SIL] * 6


def test_every_phone_is_in_exactly_one_viseme_group():
    matrix = phones.viseme_matrix()
    assert matrix.shape == (40, 12)
    np.testing.assert_array_equal(matrix.sum(1), 1.0)
    assert set(p for group in phones.VISEMES.values() for p in group) == set(phones.PHONES)


class _LabelReadingDecoder:
    """A stand-in recogniser whose 'phone' in each 10 ms frame is written in the signal's amplitude (id / 100), so
    decoding a piece gives exactly the labels of that stretch: piece-by-piece stitching must reproduce them."""

    def start_utt(self):
        self.pcm = b""

    def process_raw(self, pcm, full_utt=False):
        self.pcm += pcm

    def end_utt(self):
        pass

    def seg(self):
        x = np.frombuffer(self.pcm, np.int16).astype(np.float32) / 32767
        step = phones.SAMPLE_RATE // phones.PHONE_RATE
        ids = np.round(x[::step] * 100).astype(int)
        return [type("Seg", (), {"word": phones.PHONES[i], "start_frame": k, "end_frame": k})() for k, i in
                enumerate(ids)]


@pytest.mark.parametrize("seconds,chunk,overlap", [(9.93, 3.0, 1.0), (10.0, 2.5, 0.5), (7.0, 4.0, 0.0), (2.0, 30, 2)])
def test_pieces_are_stitched_without_gaps_or_shifts(monkeypatch, seconds, chunk, overlap):
    monkeypatch.setattr(phones, "_decoder", lambda lw, pip: _LabelReadingDecoder())
    step = phones.SAMPLE_RATE // phones.PHONE_RATE
    rng = np.random.default_rng(1)
    truth = rng.integers(0, len(phones.PHONES), int(np.ceil(seconds * phones.PHONE_RATE)))
    wave = np.repeat(truth / 100.0, step).astype(np.float32)[:int(seconds * phones.SAMPLE_RATE)]
    labels = phones.decode_labels(wave, chunk_seconds=chunk, overlap_seconds=overlap)
    np.testing.assert_array_equal(labels, truth[:len(labels)])
    assert len(labels) == -(-len(wave) // step)


def test_missing_pocketsphinx_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    with pytest.raises(ImportError, match="pip install pocketsphinx"):
        phones.phone_track(np.zeros(16000, np.float32), 16000, 25, 25.0)


@pytest.fixture(scope="module")
def speech():
    pytest.importorskip("pocketsphinx")
    soundfile = pytest.importorskip("soundfile")
    wave, rate = soundfile.read(os.path.join(ROOT, "samples", "speech.wav"), dtype="float32")
    return wave, rate, int(len(wave) / rate * 25)


def test_speech_gives_one_row_per_frame_mostly_phones(speech):
    wave, rate, frames = speech
    track = phones.phone_track(wave, rate, frames, 25.0)
    assert track.shape == (frames, 40)
    np.testing.assert_allclose(track.sum(1), 1.0, atol=1e-5)
    assert 1 - track[:, SIL].mean() > 0.5  # the sample talks most of its 12 s
    assert len(set(track.argmax(1).tolist())) > 15  # many different phones, not one stuck label


def test_silence_is_sil():
    pytest.importorskip("pocketsphinx")
    quiet = np.random.default_rng(0).normal(0, 1e-4, 3 * 22050).astype(np.float32)
    track = phones.phone_track(quiet, 22050, 75, 25.0)
    assert track[:, SIL].mean() > 0.95


def test_chunked_decoding_agrees_with_one_utterance(speech):
    """Each piece is decoded with its own cepstral mean, so labels differ from a whole-clip decode here and there
    (on this sample 78-86 % of frames agree at 3-5 s pieces); a clip shorter than one piece is decoded whole."""
    wave, rate, frames = speech
    whole = phones.phone_track(wave, rate, frames, 25.0, chunk_seconds=60.0)
    np.testing.assert_array_equal(phones.phone_track(wave, rate, frames, 25.0), whole)  # 12 s < 30 s pieces
    chunked = phones.phone_track(wave, rate, frames, 25.0, chunk_seconds=5.0, overlap_seconds=2.0)
    assert (chunked.argmax(1) == whole.argmax(1)).mean() > 0.7
    assert abs(chunked[:, SIL].mean() - whole[:, SIL].mean()) < 0.1
