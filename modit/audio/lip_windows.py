"""Wav2Lip / SadTalker mel windows for the frames of an AudioFeatures, chunk by chunk (paper §3.4.5 lip reference).

    windows = MelWindows(audio_features)
    for first in range(0, windows.num_frames, 64):
        batch = windows.windows(first, first + 64)  # [n, 80, 16], the Wav2Lip audio input (add a channel dim)
    windows[a:b]                                    # the same; windows.shape == (T, 80, 16)

The one Wav2Lip window builder of the pack (the lip reference node uses it), on the one audio route: the aligned
audio is resampled to 16 kHz per window (features.Waveform16k) and only the mel frames a chunk needs are
computed, so memory follows the chunk whatever the recording's length and feature kind. Windows equal
mel_windows(log_mel(16 kHz audio), T, fps, rule, edge) of the whole recording.
"""
import torch

from .. import comfy_adapter
from ..types import AudioFeatures
from .alignment import AlignedAudio
from .features import Waveform16k
from .mel import EDGE_MODES, WINDOW_FRAMES, gather_windows, log_mel_frames, num_mel_frames, window_starts


class MelWindows:
    """Per-video-frame 16-mel-frame windows of an AudioFeatures' aligned audio, on `device`."""

    def __init__(self, features: AudioFeatures, device: torch.device | None = None, rule: str = "wav2lip",
                 edge: str = "clamp", pad_mode: str = "reflect"):
        if edge not in EDGE_MODES:
            raise ValueError(f"MelWindows: edge must be one of {EDGE_MODES}, got {edge!r}")
        window_starts(1, features.fps, rule)  # checks the rule name now, not at the first chunk
        self.device = device or comfy_adapter.compute_device()
        aligned = AlignedAudio(features.samples, features.sample_rate, features.num_frames, features.fps)
        self.waveform_16k = Waveform16k(aligned, self.device)  # [S16], resampled per window
        self.num_mel_frames = num_mel_frames(self.waveform_16k.shape[0])
        self.num_frames = features.num_frames
        self.fps = features.fps
        self.rule, self.edge, self.pad_mode = rule, edge, pad_mode
        self.shape = (self.num_frames, 80, WINDOW_FRAMES)

    def __getitem__(self, item: slice) -> torch.Tensor:
        if not isinstance(item, slice) or (item.step or 1) != 1:
            raise TypeError("MelWindows: only contiguous frame slices can be read")
        first, last, _ = item.indices(self.num_frames)
        return self.windows(first, max(first, last))

    def windows(self, first: int = 0, last: int | None = None) -> torch.Tensor:
        """Windows of frames [first, last): [n, 80, 16] float32 in [-4, 4]."""
        last = self.num_frames if last is None else min(last, self.num_frames)
        if not 0 <= first <= last:
            raise ValueError(f"MelWindows: bad frame range [{first}, {last}) for {self.num_frames} frames")
        starts = window_starts(last - first, self.fps, self.rule, first)  # [n]
        if last == first:
            return torch.zeros(0, 80, WINDOW_FRAMES, device=self.device)
        if self.edge == "shift":
            starts = starts.clamp(max=self.num_mel_frames - WINDOW_FRAMES)
        lo = int(starts.min().clamp(0, self.num_mel_frames - 1))
        hi = int((starts.max() + WINDOW_FRAMES).clamp(1, self.num_mel_frames))
        mel = log_mel_frames(self.waveform_16k, lo, max(hi, lo + 1), self.pad_mode)  # [80, hi - lo]
        return gather_windows(mel, starts, lo, self.num_mel_frames, self.edge)
