"""Decode a talking-head clip with PyAV: frames at a fixed output rate and the clip's sound (paired .wav first).

Output frame i covers [i / fps, (i + 1) / fps) of the video, counted from the first decoded picture; it shows
the source picture whose timestamp is nearest to i / fps (so a 25 fps source maps one to one and a 30 fps one
drops every sixth picture). The clip has floor(video duration * fps) output frames. The sound is read from
`<same name>.wav` when that file exists (some repositories ship the speech beside a silent video), else from the
video's first audio track; it is aligned to the first picture (an audio track that starts later is padded with
silence, one that starts earlier is trimmed), mixed to mono and kept at its own sample rate.
"""
import itertools
import logging
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sound:
    waveform: np.ndarray  # [S] float32 mono, sample 0 = the first picture's time
    sample_rate: int
    source: str  # "paired wav <name>" or "audio track"


def paired_audio_path(video_path: str) -> str | None:
    """`<video without extension>.wav` if it exists (it wins over the video's own track)."""
    candidate = os.path.splitext(video_path)[0] + ".wav"
    return candidate if candidate != video_path and os.path.isfile(candidate) else None


def _open(path: str):
    import av

    try:
        return av.open(path)
    except av.error.FFmpegError as error:
        raise ValueError(f"{path}: not a readable video ({error}); check the file decodes with ffprobe") from error


def first_picture_time(path: str) -> float:
    """Timestamp (s) of the first decoded picture; the origin of output frame times and of the sound."""
    with _open(path) as container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream; give a video file (mp4, mov, mpg, ...)")
        for frame in container.decode(container.streams.video[0]):
            return float(frame.time) if frame.time is not None else 0.0
    raise ValueError(f"{path}: the video stream holds no decodable picture")


def _decode_sound(path: str, start: float) -> tuple[np.ndarray, int] | None:
    """Mono float32 samples of the first audio stream from time `start` on, or None without one."""
    import av

    with _open(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        rate = int(stream.rate)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        pieces, first_time = [], None
        for frame in itertools.chain(container.decode(stream), [None]):  # None flushes the resampler
            if frame is not None and first_time is None and frame.time is not None:
                first_time = float(frame.time)
            for out in resampler.resample(frame):
                pieces.append(out.to_ndarray().reshape(-1).astype(np.float32))
    if not pieces:
        return None
    samples = np.concatenate(pieces)
    shift = int(round(((first_time or 0.0) - start) * rate))  # > 0: the sound starts after the first picture
    if shift > 0:
        samples = np.concatenate([np.zeros(shift, np.float32), samples])
    elif shift < 0:
        samples = samples[-shift:]
    return samples, rate


def read_sound(path: str) -> Sound | None:
    """The clip's speech: the paired .wav if present, else the video's audio track; None when it has neither."""
    start = first_picture_time(path)
    paired = paired_audio_path(path)
    if paired is not None:
        decoded = _decode_sound(paired, 0.0)  # a paired wav starts with the first picture
        if decoded is not None:
            return Sound(decoded[0], decoded[1], f"paired wav {os.path.basename(paired)}")
    decoded = _decode_sound(path, start)
    return Sound(decoded[0], decoded[1], "audio track") if decoded is not None else None


def source_rate(path: str) -> float:
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        return float(rate) if rate else 25.0


def frames_at(path: str, fps: float) -> Iterator[tuple[int, int, np.ndarray]]:
    """(output index i, source picture index j, RGB uint8 [H, W, 3]) for every output frame, in order."""
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = 1.0 / source_rate(path)
        origin, previous, previous_time, j, i = None, None, None, -1, 0
        for frame in container.decode(stream):
            j += 1
            time = float(frame.time) if frame.time is not None else j * step
            if origin is None:
                origin = time
            time -= origin
            if previous is not None:
                boundary = (previous_time + time) / 2  # output times before this are nearer the previous picture
                while i / fps < boundary - 1e-9:
                    yield i, j - 1, previous
                    i += 1
            previous, previous_time = frame.to_ndarray(format="rgb24"), time
        if previous is None:
            return
        end = previous_time + step  # the last picture lasts one source frame
        while (i + 1) / fps <= end + 1e-6:
            yield i, j, previous
            i += 1
