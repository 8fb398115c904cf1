"""Whisper base's encoder cut after its 4th block: speech features that carry lip sync to unseen speakers (issue 14).

Why: mel80 features, learned from ~7 min of real speech, cap a supervised mouth regressor at r 0.44 on unseen
speakers; the middle layers of OpenAI Whisper base (MIT, trained on 680 000 hours) lift that ceiling to 0.50 alone and
0.54 beside mel80 (bench/whisper_ceiling.py, modit/train/README.md "Whisper encoder ceiling"). Layers 5-6 and the output
are worse, so only the convolutions, the positions and blocks 1-4 are kept (~14 M parameters, float16 file).

    encoder = load_whisper_encoder(path)            # WhisperEncoder in eval mode, float32
    curve = WhisperCurve(encoder, waveform_16k)     # vectors(start, stop) -> [n, 512] at 50 Hz (alignment.Curve)

Front end, Whisper's own (not the pack's mel80): 16 kHz, periodic Hann STFT n_fft 400 hop 160 centred with reflect
padding, |X|^2 with the last frame dropped, 80 Slaney mel filters (stored in the weight file), log10 clamped at 1e-10
and at the window's max - 8, then (x + 4) / 4.

Windows: the encoder always sees 30 s (3000 mel frames -> 1500 vectors; vector n covers [20 n, 20 n + 20) ms, centre
10 ms + 20 n). A recording is cut into consecutive 30 s windows from its start, each zero-padded to 30 s, and only the
rows of real audio kept; training shards were featurised by this same code, so a DiT sees at sampling what it saw in
training. Code names vs Whisper's (openai/whisper model.py): conv1/conv2 as there, positions = positional_embedding,
blocks[i].attention_norm = attn_ln, .qkv = query/key/value fused (key has no bias there: its bias is zero here),
.out = attn.out, .mlp_norm = mlp_ln, .mlp = mlp.
"""
import logging
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checkpoints import check_state_dict, load_checkpoint

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
N_FFT, HOP, N_MELS = 400, 160, 80
SAMPLES_PER_VECTOR = 2 * HOP  # 320: the second convolution's stride 2 over 10 ms mel frames
RATE = SAMPLE_RATE / SAMPLES_PER_VECTOR  # 50 vectors per second
T0 = 0.01  # centre of vector 0, seconds
WINDOW_SAMPLES = 30 * SAMPLE_RATE  # 480 000 samples -> 3000 mel frames -> 1500 vectors
WINDOW_VECTORS = WINDOW_SAMPLES // SAMPLES_PER_VECTOR
WIDTH, HEADS = 512, 8  # Whisper base
ARCHITECTURE = "whisper-encoder"
WEIGHTS_FILE = "whisper_base_encoder_l4.safetensors"


class WhisperBlock(nn.Module):
    """Pre-norm self-attention + MLP (Whisper's ResidualAttentionBlock without cross-attention)."""

    def __init__(self, width: int = WIDTH, heads: int = HEADS):
        super().__init__()
        self.heads = heads
        self.attention_norm = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, N, C] -> [B, N, C]."""
        B, N, C = x.shape
        q, k, v = self.qkv(self.attention_norm(x)).view(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)  # [B, h, N, d]
        x = x + self.out(y.transpose(1, 2).reshape(B, N, C))
        return x + self.mlp(self.mlp_norm(x))


class WhisperEncoder(nn.Module):
    """Whisper's audio encoder up to block `layers` (no final layer norm: that follows block 6 only)."""

    def __init__(self, layers: int = 4, width: int = WIDTH, heads: int = HEADS):
        super().__init__()
        self.layers = layers
        self.conv1 = nn.Conv1d(N_MELS, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(width, width, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positions", torch.zeros(WINDOW_VECTORS, width))
        self.register_buffer("mel_filters", torch.zeros(N_MELS, N_FFT // 2 + 1))
        self.blocks = nn.ModuleList(WhisperBlock(width, heads) for _ in range(layers))

    @property
    def dim(self) -> int:
        return self.positions.shape[1]

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """One window of 16 kHz audio [S <= 480 000], zero-padded to 30 s -> Whisper's log-mel [80, 3000]."""
        padded = wave.new_zeros(WINDOW_SAMPLES, dtype=torch.float32)
        padded[:wave.shape[0]] = wave[:WINDOW_SAMPLES].float()
        window = torch.hann_window(N_FFT, periodic=True, device=wave.device)
        spectrum = torch.stft(padded, N_FFT, HOP, window=window, center=True, pad_mode="reflect",
                              return_complex=True)  # [201, 3001]
        power = spectrum[:, :-1].abs() ** 2  # [201, 3000]
        mel = torch.log10((self.mel_filters.float() @ power).clamp(min=1e-10))  # [80, 3000]
        mel = torch.maximum(mel, mel.max() - 8.0)
        return (mel + 4.0) / 4.0

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """mel: [B, 80, 3000] -> [B, 1500, C] after block `layers`."""
        dtype = self.conv1.weight.dtype
        x = F.gelu(self.conv1(mel.to(dtype)))
        x = F.gelu(self.conv2(x)).transpose(1, 2)  # [B, 1500, C]
        x = x + self.positions.to(dtype)
        for block in self.blocks:
            x = block(x)
        return x

    def encode_window(self, wave: torch.Tensor) -> torch.Tensor:
        """One window of 16 kHz audio [S <= 480 000] -> [ceil(S / 320), C] float32 (the rows of real audio)."""
        with torch.no_grad():
            return self(self.log_mel(wave)[None])[0, :num_vectors(wave.shape[0])].float()


def num_vectors(num_samples: int) -> int:
    """Vectors for num_samples of 16 kHz audio: one per 20 ms started (at least one)."""
    return max(1, math.ceil(num_samples / SAMPLES_PER_VECTOR))


class WhisperCurve:
    """The encoder's vectors over a whole recording as an alignment.Curve, one 30 s window encoded at a time.

    The two most recent windows stay cached, so reading frames in order (the sampler's windows) encodes each window
    once, and nothing grows with the recording's length.
    """

    rate = RATE
    t0 = T0

    def __init__(self, encoder: WhisperEncoder, waveform_16k, before_encode=None):
        """waveform_16k: [S16] tensor, or anything sliceable like one (features.Waveform16k). before_encode: called
        before each window is encoded (the node passes ComfyUI's load_models for the encoder's patcher)."""
        self.encoder, self.waveform, self.before_encode = encoder, waveform_16k, before_encode
        self.length = num_vectors(waveform_16k.shape[0])
        self.dim = encoder.dim
        self._cache: dict[int, torch.Tensor] = {}

    def window(self, index: int) -> torch.Tensor:
        """Vectors of window `index` ([<= 1500, C] float32), encoded on first use."""
        if index not in self._cache:
            if self.before_encode is not None:
                self.before_encode()
            start = index * WINDOW_SAMPLES
            stop = min(start + WINDOW_SAMPLES, self.waveform.shape[0])
            device = next(self.encoder.parameters()).device
            wave = self.waveform[start:stop].to(device) if stop > start else torch.zeros(1, device=device)
            if len(self._cache) >= 2:
                self._cache.pop(min(self._cache))
            self._cache[index] = self.encoder.encode_window(wave)
        return self._cache[index]

    def vectors(self, start: int, stop: int) -> torch.Tensor:
        """Vectors [start, stop) as [stop - start, C] float32 on the encoder's device."""
        first, last = start // WINDOW_VECTORS, (stop - 1) // WINDOW_VECTORS
        pieces = [self.window(w) for w in range(first, last + 1)]
        joined = pieces[0] if len(pieces) == 1 else torch.cat(pieces)
        offset = start - first * WINDOW_VECTORS
        return joined[offset:offset + (stop - start)]


def load_whisper_encoder(path: str) -> WhisperEncoder:
    """A converted Whisper encoder file (modit_app convert-whisper) -> WhisperEncoder, eval, float32."""
    name = os.path.basename(path)
    state_dict, metadata = load_checkpoint(path)
    if metadata.get("architecture") != ARCHITECTURE or not isinstance(metadata.get("layers"), int):
        raise ValueError(f"{name}: not a MoDiT Whisper encoder file (metadata architecture "
                         f"{metadata.get('architecture')!r}, layers {metadata.get('layers')!r}); convert one with "
                         f"`python -m modit_app convert-whisper`")
    model = WhisperEncoder(metadata["layers"])
    expected = {k: v.shape for k, v in model.state_dict().items()}
    check_state_dict(state_dict, expected, name, "Whisper encoder",
                     "the file does not match its metadata; convert it again")
    model.load_state_dict({k: v.float() for k, v in state_dict.items()})
    log.info("loaded Whisper encoder %s: %d blocks, %.1f M parameters", name, model.layers,
             sum(p.numel() for p in model.parameters()) / 1e6)
    return model.eval()
