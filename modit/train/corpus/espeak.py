"""Text-to-speech with per-phoneme timings from espeak-ng's C library, through ctypes (the corpus: README.md here).

The library and its data come from PyPI's `espeakng-loader` when installed, else from the system
(Debian's `libespeak-ng1` + `espeak-ng-data`). We run espeak in synchronous mode: every audio block reaches
our callback together with the events that fall in it, and a phoneme event's `audio_position` (milliseconds
from the start of the utterance) marks where that phoneme starts in the audio we receive.

espeak is a process-wide singleton (one voice, one set of parameters), so `Speaker` keeps one per process
and is not thread-safe. Its output also depends on what the process spoke before: the pitch "flutter"
index in wavegen.c is a static that runs on across utterances (and survives espeak_Terminate), so the same
call gives the same samples only in a process with the same history. The corpus therefore makes each shard
in a fresh process (`generate.py`).
"""
import ctypes
import ctypes.util
import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

# speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_END = 5
_EVENT_MSG_TERMINATED = 6
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE, _PARAM_WORDGAP = 1, 2, 3, 4, 7


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                  ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Phoneme:
    """One phoneme as espeak spoke it: its espeak mnemonic (e.g. "a", "aI", "tS", "_:" for a pause)."""

    name: str
    start: float  # seconds from the start of the waveform
    end: float  # seconds; the next phoneme's start, or the end of the audio for the last one


@dataclass(frozen=True)
class Utterance:
    waveform: np.ndarray  # [S] float32 mono in -1..1
    sample_rate: int
    phonemes: tuple  # of Phoneme, in time order, covering speech only (silence around is not listed)


def _library_and_data() -> tuple[str, str | None]:
    try:
        import espeakng_loader
    except ImportError:
        espeakng_loader = None
    if espeakng_loader is not None:
        return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    found = ctypes.util.find_library("espeak-ng")
    if found is None:
        raise FileNotFoundError("espeak-ng library not found: install the PyPI package espeakng-loader "
                                "(pip install espeakng-loader) or Debian's libespeak-ng1")
    return found, None


class Speaker:
    """espeak-ng loaded once per process; `speak(text, ...)` returns audio and phoneme timings."""

    _instance = None

    @classmethod
    def get(cls) -> "Speaker":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def __init__(self):
        library, data = _library_and_data()  # the data path goes to espeak_Initialize (no ESPEAK_DATA_PATH needed)
        self._lib = ctypes.CDLL(library)
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                           ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        path = data.encode() if data is not None else None
        self.sample_rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 200, path,
                                                       _INITIALIZE_PHONEME_EVENTS)
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak-ng ({library}) failed to initialise with data {data!r}")
        self._blocks: list[np.ndarray] = []
        self._events: list[tuple[int, int, str]] = []
        # Keep a reference: ctypes frees the trampoline when the Python object dies.
        self._callback = _SynthCallback(self._on_audio)
        self._lib.espeak_SetSynthCallback(self._callback)

    def seed_random(self, seed: int) -> None:
        """Seed the noise sources espeak draws from (its own generator and the C library's rand())."""
        if hasattr(self._lib, "espeak_ng_SetRandSeed"):
            self._lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
        ctypes.CDLL(None).srand(ctypes.c_uint(seed & 0xFFFFFFFF))

    def _on_audio(self, wav, num_samples, events) -> int:
        if num_samples > 0:
            self._blocks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type == _EVENT_PHONEME:
                self._events.append((event.type, event.audio_position, event.id.string.decode("utf-8", "replace")))
            elif event.type in (_EVENT_WORD, _EVENT_END):
                self._events.append((event.type, event.audio_position, ""))
            i += 1
        return 0  # 0 = keep synthesising

    def speak(self, text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50, pitch_range: int = 50,
              word_gap: int = 0) -> Utterance:
        """Synthesise `text`. voice: espeak name with optional variant ("en-gb+f3"); rate: words per minute
        (80..450); pitch, pitch_range: 0..100 (espeak's own scales)."""
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng voice {voice!r} not found; use a name like 'en-us' or 'en-gb+f3'")
        for parameter, value in ((_PARAM_RATE, rate), (_PARAM_PITCH, pitch), (_PARAM_RANGE, pitch_range),
                                 (_PARAM_WORDGAP, word_gap), (_PARAM_VOLUME, 100)):
            self._lib.espeak_SetParameter(parameter, int(value), 0)
        self._blocks, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        status = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != 0:
            raise RuntimeError(f"espeak-ng failed to synthesise {text[:40]!r} (status {status})")
        waveform = (np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.int16)).astype(np.float32)
        waveform /= 32768.0
        duration = len(waveform) / self.sample_rate
        starts = [(ms / 1000.0, name) for kind, ms, name in self._events if kind == _EVENT_PHONEME]
        phonemes = []
        for i, (start, name) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else duration
            phonemes.append(Phoneme(name, start, max(start, end)))
        return Utterance(waveform, self.sample_rate, tuple(phonemes))
