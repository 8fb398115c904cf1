"""Audio samples read in windows, never held whole: the one way pack code reads a recording.

A long recording is audio-sized (60 min of 22 kHz mono float32 is 317 MB), so the pack reads it a window at a
time, whatever holds it:

    samples = samples_of(audio)              # core AUDIO dict (tensor) or StreamedAudio (file) -> Samples
    mono = samples.mono().with_length(S)     # channel mean, zero-padded / cut to S samples: no copy
    piece = mono.read(s0, s1)                # [1, s1 - s0] float32, zeros outside the recording
    mono[s0:s1]                              # the same as [s1 - s0] (a mono Samples slices like a 1-D tensor)

`TensorSamples` views a tensor (core ComfyUI hands AUDIO as {"waveform": [B, C, S], "sample_rate"}; ComfyUI keeps
it anyway, so a view costs nothing). `FileSamples` reads a raw float32 file that `decode_to_file` wrote chunk by
chunk from any file PyAV reads (what the CLI's LoadAudio does), so the decoded recording lives on disk, not in
memory. `StreamedAudio` is the core AUDIO dict of such a file: ComfyUI's contract holds (audio["waveform"] is a
[1, C, S] tensor, built on access), and the pack's nodes read its `samples` in windows instead.
"""
import itertools
import logging
import tempfile
import threading

import numpy as np
import torch

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 20  # samples per step when a whole track is scanned or copied


class Samples:
    """C channels of `length` samples at `sample_rate`, read by windows: zeros outside [0, length)."""

    def __init__(self, sample_rate: int, channels: int, length: int):
        self.sample_rate, self.channels, self.length = int(sample_rate), int(channels), int(length)

    def _read(self, start: int, stop: int) -> torch.Tensor:
        """[C, stop - start] float32 for 0 <= start <= stop <= self.length."""
        raise NotImplementedError

    def read(self, start: int, stop: int) -> torch.Tensor:
        """Samples [start, stop) as [C, stop - start] float32 (CPU); zeros where the range leaves [0, length)."""
        start, stop = int(start), int(stop)
        if stop <= start:
            return torch.zeros(self.channels, 0)
        lo, hi = max(start, 0), min(stop, self.length)
        if hi <= lo:
            return torch.zeros(self.channels, stop - start)
        inner = self._read(lo, hi)
        if lo - start or stop - hi:
            inner = torch.nn.functional.pad(inner, (lo - start, stop - hi))
        return inner

    # a mono Samples reads like a 1-D tensor, so the resampler and the mel front end take either
    @property
    def shape(self) -> tuple[int]:
        return (self.length,) if self.channels == 1 else (self.channels, self.length)

    def __getitem__(self, item: slice) -> torch.Tensor:
        if not isinstance(item, slice) or (item.step or 1) != 1:
            raise TypeError("Samples: only contiguous slices can be read")
        start, stop, _ = item.indices(self.length)
        piece = self.read(start, max(stop, start))
        return piece[0] if self.channels == 1 else piece

    def mono(self) -> "Samples":
        """The channel mean (as core CreateVideo and the encoders downmix)."""
        return self if self.channels == 1 else MonoMix(self)

    def with_length(self, length: int) -> "Samples":
        """The same samples cut or zero-padded to `length` (no copy)."""
        return self if length == self.length else Reframed(self, length)

    def tensor(self) -> torch.Tensor:
        """All samples as one [C, length] float32 tensor: audio-sized, for callers that need a real tensor."""
        out = torch.empty(self.channels, self.length)
        for start in range(0, self.length, READ_CHUNK):
            stop = min(start + READ_CHUNK, self.length)
            out[:, start:stop] = self._read(start, stop)
        return out

    def chunks(self, size: int = READ_CHUNK):
        """(start, [C, n]) over the whole track, `size` samples at a time."""
        for start in range(0, self.length, size):
            yield start, self._read(start, min(start + size, self.length))

    @property
    def in_memory(self) -> bool:
        """Whether reading everything needs no more than a view (a tensor behind it, nothing to compute)."""
        return False


class TensorSamples(Samples):
    """A view of a [C, S] (or [S]) waveform; `length` beyond S reads zeros (a view plus a pad length)."""

    def __init__(self, waveform: torch.Tensor, sample_rate: int, length: int | None = None):
        waveform = waveform.reshape(1, -1) if waveform.ndim == 1 else waveform
        super().__init__(sample_rate, waveform.shape[0], waveform.shape[1] if length is None else length)
        self.waveform = waveform

    def _read(self, start: int, stop: int) -> torch.Tensor:
        piece = self.waveform[:, start:min(stop, self.waveform.shape[1])].float().cpu()
        return torch.nn.functional.pad(piece, (0, stop - start - piece.shape[1])) if piece.shape[1] < stop - start else piece

    def tensor(self) -> torch.Tensor:
        if self.length <= self.waveform.shape[1] and self.waveform.dtype == torch.float32:
            return self.waveform[:, :self.length].cpu()  # a view, no copy
        return super().tensor()

    @property
    def in_memory(self) -> bool:
        return True


class FileSamples(Samples):
    """Interleaved float32 samples in a (temporary) file, read with seek + read: the OS page cache holds them, not
    this process (reads are copies of one window, never a memory map that would count as resident)."""

    def __init__(self, file, sample_rate: int, channels: int, length: int):
        super().__init__(sample_rate, channels, length)
        self.file = file
        self.lock = threading.Lock()  # the encoder thread and the render thread may read at once

    def _read(self, start: int, stop: int) -> torch.Tensor:
        n = stop - start
        data = np.empty(n * self.channels, dtype=np.float32)
        with self.lock:
            self.file.seek(start * self.channels * 4)
            got = self.file.readinto(memoryview(data).cast("B"))
        if got != data.nbytes:
            raise OSError(f"audio cache file: read {got} of {data.nbytes} bytes at sample {start}")
        return torch.from_numpy(data).reshape(n, self.channels).T.contiguous()


class MonoMix(Samples):
    """The mean of a multi-channel Samples' channels, per window."""

    def __init__(self, source: Samples):
        super().__init__(source.sample_rate, 1, source.length)
        self.source = source

    def _read(self, start: int, stop: int) -> torch.Tensor:
        return self.source.read(start, stop).mean(0, keepdim=True)

    @property
    def in_memory(self) -> bool:
        return self.source.in_memory


class Reframed(Samples):
    """A Samples cut or zero-padded to another length."""

    def __init__(self, source: Samples, length: int):
        super().__init__(source.sample_rate, source.channels, length)
        self.source = source

    def _read(self, start: int, stop: int) -> torch.Tensor:
        return self.source.read(start, stop)

    @property
    def in_memory(self) -> bool:
        return self.source.in_memory

    def tensor(self) -> torch.Tensor:
        if isinstance(self.source, TensorSamples):
            return TensorSamples(self.source.waveform, self.sample_rate, self.length).tensor()
        return super().tensor()


class Resampled(Samples):
    """A Samples at another rate (the band-limited resampler of resample.py), computed per window."""

    def __init__(self, source: Samples, target_rate: int):
        from .resample import output_length

        super().__init__(target_rate, source.channels, output_length(source.length, source.sample_rate, target_rate))
        self.source = source

    def _read(self, start: int, stop: int) -> torch.Tensor:
        from .resample import resample_range

        return resample_range(self.source, self.source.sample_rate, self.sample_rate, start, stop,
                              torch.device("cpu")).reshape(self.channels, -1)


class StreamedAudio(dict):
    """A core AUDIO dict backed by Samples: audio["waveform"] builds the [1, C, S] tensor on each access (ComfyUI's
    contract); the pack's nodes read `.samples` window by window and never build it."""

    def __init__(self, samples: Samples):
        super().__init__(sample_rate=samples.sample_rate)
        self.samples = samples

    def __getitem__(self, key):
        if key == "waveform":
            return self.samples.tensor()[None]
        return super().__getitem__(key)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __contains__(self, key) -> bool:
        return key == "waveform" or super().__contains__(key)

    def __repr__(self) -> str:
        s = self.samples
        return f"StreamedAudio({s.length / s.sample_rate:.2f} s, {s.channels} ch, {s.sample_rate} Hz)"


def samples_of(audio: dict) -> Samples:
    """The Samples of a core AUDIO dict: batch item 0 of its [B, C, S] waveform, or a StreamedAudio's own."""
    if isinstance(audio, StreamedAudio):
        return audio.samples
    waveform = audio["waveform"]
    return TensorSamples(waveform[0] if waveform.ndim == 3 else waveform, int(audio["sample_rate"]))


def decode_to_file(path: str, name: str | None = None) -> StreamedAudio:
    """Decode any audio file PyAV reads into a temporary float32 file, chunk by chunk: a StreamedAudio.

    Memory stays at one decoded packet however long the recording; the file is deleted when the samples are
    garbage collected (tempfile.TemporaryFile). Errors name the file and the fix.
    """
    import av

    name = name or path
    try:
        container = av.open(path)
    except av.error.FFmpegError as error:
        raise ValueError(f"{name}: not a readable audio file ({error.strerror}): damaged, truncated or not "
                         f"audio; export it again as wav, mp3 or flac") from error
    if not container.streams.audio:
        container.close()
        raise ValueError(f"{name}: the file has no audio track; give a speech recording")
    store = tempfile.TemporaryFile(prefix="modit-audio-")
    with container:
        stream = container.streams.audio[0]
        rate, channels = stream.rate, stream.channels
        seconds = float(stream.duration * stream.time_base) if stream.duration else float(container.duration or 0) / 1e6
        resampler = av.AudioResampler(format="flt", layout=stream.layout.name, rate=rate)  # packed float32
        frames = itertools.chain(container.decode(stream), [None])  # None flushes the resampler
        filled = 0
        try:
            for frame in frames:
                for out in resampler.resample(frame):
                    data = np.ascontiguousarray(out.to_ndarray(), dtype=np.float32).reshape(-1)  # [n * C] interleaved
                    store.write(data.tobytes())
                    filled += data.shape[0] // channels
        except av.error.FFmpegError as error:  # damaged mid-stream: keep what decoded, as players do
            log.warning("%s: the audio is damaged after %.2f s (%s); using the part that decodes", name,
                        filled / rate, error.strerror)
    store.flush()
    if filled == 0:
        store.close()
        raise ValueError(f"{name}: no audio could be decoded (the file is empty or truncated); re-export it")
    if filled < (seconds - 0.5) * rate:
        log.warning("%s: the header says %.2f s but only %.2f s decode (a truncated file?); using what is there",
                    name, seconds, filled / rate)
    return StreamedAudio(FileSamples(store, rate, channels, filled))
