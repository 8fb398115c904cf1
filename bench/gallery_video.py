"""Video and audio I/O for the gallery: one H.264 encoder for renders and baselines alike, decoding, wav crops."""
import fractions

import av
import numpy as np

CRF, PRESET = "19", "veryfast"  # what the pack's own writer uses


def encode(path: str, frames: np.ndarray, fps: float, audio: tuple[np.ndarray, int] | None = None) -> str:
    """uint8 [T, H, W, 3] (+ mono float audio, rate) -> H.264 yuv420p mp4 (+ AAC); sizes rounded down to even."""
    T, H, W = frames.shape[0], frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
    rate = fractions.Fraction(fps).limit_denominator(1001)
    with av.open(path, "w") as container:
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = W, H, "yuv420p"
        video.options = {"crf": CRF, "preset": PRESET}
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=audio[1])
            sound.layout = "mono"
        for image in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:H, :W, :3]), format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            samples = np.ascontiguousarray(audio[0][: int(round(T / fps * audio[1]))].astype(np.float32)[None])
            piece = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
            piece.sample_rate = audio[1]
            for packet in sound.encode(piece):
                container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


def decode(path: str, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """(uint8 frames [T, H, W, 3], fps) of a video file's first max_frames frames."""
    frames = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            if max_frames and len(frames) >= max_frames:
                break
    return np.stack(frames), fps


def read_audio(path: str) -> tuple[np.ndarray, int]:
    """(mono float32 waveform, sample rate) of any audio or video file's first audio track."""
    chunks = []
    with av.open(path) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32), int(rate)


def write_wav(path: str, waveform: np.ndarray, rate: int) -> str:
    import soundfile

    soundfile.write(path, waveform.astype(np.float32), rate, subtype="PCM_16")
    return path
