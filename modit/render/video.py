"""Streaming render to an mp4 with its audio (paper §3.4.5 output): chunks are encoded as they are rendered.

Memory stays flat in clip length: each chunk of frames is pasted into a full-size uint8 chunk, handed to a
background encoder thread (libx264 + AAC through PyAV) through a two-item queue, and dropped once encoded. The audio written is exactly the
samples that cover the frames (modit/timing.py), read from its source (a tensor view or the decoded file) and
encoded chunk by chunk alongside the video, so a long soundtrack is never held whole either.
"""
import logging
import os
import queue
import re
import threading

import torch

from .. import comfy_adapter
from ..timing import exact_fps, samples_for_frames
from ..audio.samples import Resampled, Samples, StreamedAudio, TensorSamples, samples_of
from ..types import Face, Motion
from .frame_size import encodable_size
from .renderer import RenderOptions, render_chunks

log = logging.getLogger(__name__)

AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)  # MPEG-4's
AAC_FALLBACK_RATE = 48000  # any other rate (192 kHz, 37.8 kHz, ...) is resampled to this for the soundtrack


def next_output_path(directory: str, filename_prefix: str, extension: str = "mp4") -> tuple[str, str, str]:
    """A new file path under directory for the prefix (which may hold subfolders): never overwrites.

    Returns (full path, subfolder, file name); names are '<prefix>_00001_.mp4' with the next free counter.
    """
    prefix = filename_prefix.strip().replace("\\", "/") or "MoDiT"
    subfolder, base = os.path.split(prefix)
    folder = os.path.realpath(os.path.join(directory, subfolder))
    if os.path.commonpath([folder, os.path.realpath(directory)]) != os.path.realpath(directory):
        raise ValueError(f"filename_prefix: {filename_prefix!r} points outside the output folder; use a plain "
                         f"name or a subfolder such as 'modit/clip'")
    os.makedirs(folder, exist_ok=True)
    pattern = re.compile(re.escape(base) + r"_(\d+)_\." + re.escape(extension) + "$")
    taken = [int(m.group(1)) for name in os.listdir(folder) if (m := pattern.match(name))]
    counter = max(taken, default=0) + 1
    while True:
        name = f"{base}_{counter:05d}_.{extension}"
        path = os.path.join(folder, name)
        try:
            with open(path, "xb"):  # claim the name atomically, so two runs never share a file
                return path, subfolder, name
        except FileExistsError:
            counter += 1


def _soundtrack(audio: "Samples | tuple[torch.Tensor, int] | None", num_frames: int, fps: float) -> "Samples | None":
    """The soundtrack as Samples with 1 or 2 channels, cut / padded to the frames, or None without audio.

    More than two channels are mixed to mono; a rate AAC cannot store is resampled to 48 kHz. Nothing is
    copied: the render reads it chunk by chunk, so a long recording is never held whole.
    """
    if audio is None:
        return None
    samples = audio if isinstance(audio, Samples) else TensorSamples(audio[0], audio[1])
    if samples.channels not in (1, 2):  # 5.1, 7.1, 8-channel arrays: the soundtrack is their mono mix
        samples = samples.mono()
    if samples.sample_rate not in AAC_RATES:
        log.info("audio: AAC cannot store %d Hz; the soundtrack is resampled to %d Hz", samples.sample_rate,
                 AAC_FALLBACK_RATE)
        samples = Resampled(samples, AAC_FALLBACK_RATE)
    return samples.with_length(samples_for_frames(num_frames, samples.sample_rate, fps))


class _Encoder(threading.Thread):
    """Encodes (frames uint8 [t, H, W, 3], audio [C, s]) items from a bounded queue into one mp4."""

    def __init__(self, path: str, width: int, height: int, fps: float, sample_rate: int | None, channels: int,
                 crf: int, preset: str):
        super().__init__(daemon=True)
        import av  # PyAV ships with ComfyUI; imported here so loading the pack stays cheap

        self.av = av
        self.items = queue.Queue(maxsize=2)
        self.error = None
        self.container = av.open(path, mode="w")
        rate = exact_fps(fps)
        self.video = self.container.add_stream("libx264", rate=rate)
        self.video.width, self.video.height = width, height
        self.video.pix_fmt = "yuv420p"
        self.video.options = {"crf": str(crf), "preset": preset}
        self.audio = None
        if sample_rate is not None:
            self.audio = self.container.add_stream("aac", rate=sample_rate)
            self.audio.layout = "stereo" if channels == 2 else "mono"
            self.audio_pts = 0

    def run(self):
        try:
            while (item := self.items.get()) is not None:
                frames, audio = item
                pixel_format = "yuv420p" if frames.dim() == 3 else "rgb24"  # I420 [t, 3H/2, W] or [t, H, W, 3]
                for frame in frames.numpy():
                    self.container.mux(self.video.encode(self.av.VideoFrame.from_ndarray(frame, format=pixel_format)))
                if audio is not None and audio.shape[1] > 0:
                    packed = audio.T.contiguous().reshape(1, -1).numpy()  # interleaved [1, s * C]
                    chunk = self.av.AudioFrame.from_ndarray(packed, format="flt", layout=self.audio.layout.name)
                    chunk.sample_rate = self.audio.rate
                    chunk.pts = self.audio_pts
                    self.audio_pts += audio.shape[1]
                    self.container.mux(self.audio.encode(chunk))
        except Exception as error:  # noqa: BLE001  reported to the rendering thread, which raises it
            self.error = error
            while self.items.get() is not None:  # drain so the producer never blocks
                pass

    def put(self, frames, audio):
        """Hand a chunk (uint8 RGB [t, H, W, 3] or I420 [t, 3H/2, W], on the CPU) to the encoder; while the encoder
        is behind, keep answering Cancel and its errors."""
        while True:
            if self.error is not None:
                raise RuntimeError(f"video encoder failed: {self.error}") from self.error
            comfy_adapter.check_interrupt()
            try:
                self.items.put((frames, audio), timeout=0.25)
                return
            except queue.Full:
                continue

    def finish(self):
        self.items.put(None)
        self.join()
        try:
            if self.error is None:
                self.container.mux(self.video.encode(None))
                if self.audio is not None:
                    self.container.mux(self.audio.encode(None))
        finally:
            self.container.close()
        if self.error is not None:
            raise RuntimeError(f"video encoder failed: {self.error}") from self.error


def render_to_video(face: Face, motion: Motion, path: str, options: RenderOptions,
                    audio: "Samples | tuple[torch.Tensor, int] | None" = None, reference: torch.Tensor | None = None,
                    crf: int = 19, preset: str = "veryfast") -> str:
    """Render motion straight into an mp4 at `path`; audio = Samples (select_audio), (waveform [C, S], sample_rate)
    or None.

    An odd frame side loses its last pixel (frame_size.py); the audio is trimmed / padded to the frames.
    """
    T, fps = motion.num_frames, motion.fps
    soundtrack = _soundtrack(audio, T, fps)
    sample_rate = None if soundtrack is None else soundtrack.sample_rate
    encoder = None
    completed = False
    try:
        for start, rgb, mask, renderer in render_chunks(face, motion, options, reference):
            if encoder is None:
                H, W = encodable_size(renderer.height, renderer.width)
                encoder = _Encoder(path, W, H, fps, sample_rate, 1 if soundtrack is None else soundtrack.channels,
                                   crf, preset)
                encoder.start()
                x0, y0, w, h = renderer.box
                on_device = converts_on_device(renderer.device)
                source = renderer.image[0].permute(1, 2, 0)  # [H, W, 3] float, on the render device
                source_u8 = (source * 255).round().to(torch.uint8)  # each chunk's frames are built from it there
                src_box = source[y0:y0 + h, x0:x0 + w]
            t = rgb.shape[0]
            # One float temporary per chunk, scaled in place: the chunk's transient memory stays one box of floats.
            blended = torch.lerp(src_box.expand_as(rgb), rgb, mask[..., None]).mul_(255).round_().clamp_(0, 255)
            frames = source_u8.expand(t, -1, -1, -1).clone()  # the encoder thread owns this chunk
            frames[:, y0:y0 + h, x0:x0 + w] = blended.to(torch.uint8)
            del blended
            frames = frames[:, :H, :W]
            frames = rgb_to_yuv420(frames).cpu() if on_device else frames
            chunk_audio = None
            if soundtrack is not None:  # read from the source (tensor or file) for this chunk only
                chunk_audio = soundtrack.read(samples_for_frames(start, sample_rate, fps),
                                              samples_for_frames(start + t, sample_rate, fps))
            encoder.put(frames, chunk_audio)
        completed = True
    finally:
        if encoder is not None and not completed:  # close the file before the error (or Cancel) propagates
            try:
                encoder.finish()
            except RuntimeError as error:
                log.warning("while stopping after an error, the encoder also failed: %s", error)
    if encoder is None:
        raise ValueError("motion: no frames to render")
    encoder.finish()
    log.info("wrote %s (%d frames, %.2f s)", path, T, T / fps)
    return path


def converts_on_device(device: torch.device) -> bool:
    """Whether frames rendered on `device` go to YUV there: on a GPU the conversion is cheap and half the bytes come
    back; on a CPU libswscale converts in the encoder thread, beside the render."""
    return device.type != "cpu"


def rgb_to_yuv420(frames: torch.Tensor) -> torch.Tensor:
    """uint8 RGB frames [t, H, W, 3] (H, W even) -> uint8 planar YUV 4:2:0 [t, 3H/2, W] (I420: Y, then U, then V
    rows), BT.601 limited range as libswscale converts rgb24 to yuv420p by default; chroma from each 2x2 block's
    mean colour."""
    t, H, W, _ = frames.shape
    rgb = frames.float()
    y = rgb @ rgb.new_tensor([65.481, 128.553, 24.966]) / 255 + 16
    mean = rgb.reshape(t, H // 2, 2, W // 2, 2, 3).mean(dim=(2, 4))
    u = mean @ mean.new_tensor([-37.797, -74.203, 112.0]) / 255 + 128
    v = mean @ mean.new_tensor([112.0, -93.786, -18.214]) / 255 + 128
    chroma = torch.stack([u, v], dim=1).reshape(t, H // 2, W)  # U's rows then V's: each plane is H/4 rows of W
    return torch.cat([y, chroma], dim=1).round_().clamp_(0, 255).to(torch.uint8)


def select_audio(motion: Motion, audio_features=None, audio: dict | None = None) -> Samples | None:
    """The soundtrack for a render: core AUDIO if given (usually the original quality), else the features' audio.

    Returns Samples ([C, S], read chunk by chunk while encoding; a view, no copy) or None. Raises ValueError when the audio's frame count
    (timing.frames_for_samples) or fps disagrees with the motion's, naming both and the fix.
    """
    from ..timing import frames_for_samples

    T, fps = motion.num_frames, motion.fps
    if audio is not None:
        if not isinstance(audio, StreamedAudio):
            waveform = audio["waveform"]
            if waveform.ndim != 3 or waveform.shape[0] < 1:
                raise ValueError(f"audio: expected a waveform [B, C, S], got {tuple(waveform.shape)}")
        samples = samples_of(audio)
        frames = frames_for_samples(samples.length, samples.sample_rate, fps)
        if frames != T:
            raise ValueError(f"audio: {samples.length / samples.sample_rate:.3f} s of audio makes {frames} frames at "
                             f"{fps} fps but the motion has {T}; use the audio the motion was sampled from")
        return samples
    if audio_features is not None:
        if audio_features.num_frames != T or abs(audio_features.fps - fps) > 1e-6:
            raise ValueError(f"audio_features: {audio_features.num_frames} frames at {audio_features.fps} fps but "
                             f"the motion has {T} frames at {fps} fps; connect the features the motion came from")
        return audio_features.samples
    return None


def write_frames(path: str, frames: torch.Tensor, fps: float, audio: dict | None = None, crf: int = 19,
                 preset: str = "veryfast", chunk: int = 64) -> str:
    """Encode frames [T, H, W, 3] 0..1 (already rendered) into an mp4 at `path`, with core AUDIO if given.

    What core CreateVideo + SaveVideo do, for the CLI; the audio is trimmed / padded to the frames and an odd
    frame side loses its last pixel (frame_size.py).
    """
    T = frames.shape[0]
    if T == 0:
        raise ValueError("frames: no frames to encode")
    H, W = encodable_size(frames.shape[1], frames.shape[2])
    soundtrack = _soundtrack(None if audio is None else samples_of(audio), T, fps)
    sample_rate = None if soundtrack is None else soundtrack.sample_rate
    encoder = _Encoder(path, W, H, fps, sample_rate, 1 if soundtrack is None else soundtrack.channels, crf, preset)
    encoder.start()
    try:
        for start in range(0, T, chunk):
            piece = (frames[start:start + chunk, :H, :W, :3].float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()
            piece_audio = None
            if soundtrack is not None:
                piece_audio = soundtrack.read(samples_for_frames(start, sample_rate, fps),
                                              samples_for_frames(start + piece.shape[0], sample_rate, fps))
            encoder.put(piece, piece_audio)
    finally:
        encoder.finish()
    log.info("wrote %s (%d frames, %.2f s)", path, T, T / fps)
    return path
