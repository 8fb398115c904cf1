"""Network sizes (paper §4.1 implementation details): one config dataclass and the named presets.

A checkpoint's metadata names its preset and stores the full config, so a loader can always rebuild the
network (`DiTConfig.from_dict`). Presets are small functions gathered in `PRESETS`, whose keys are the CLI's
`--preset` choices.
"""
from dataclasses import asdict, dataclass, fields


AUDIO_NORMS = ("global", "utterance")


@dataclass(frozen=True)
class DiTConfig:
    feature_dim: int = 80  # D: audio feature width (80 for "mel80", 768 for HuBERT-base)
    expression_dim: int = 12  # K: expression coefficients (12 in "embedded-v1", 64 in BFM)
    hidden_size: int = 1024  # width of every token inside the blocks
    depth: int = 1  # DiT blocks (the paper uses a single block)
    num_heads: int = 4
    ffn_size: int = 2048  # inner width of each block's feed-forward network
    window: int = 12  # frames per training window; sampling uses windows of this length for long audio
    temporal_range: int = 32  # R: relative offsets |i - j| > R share one learned temporal bias (eq. 6)
    latent_size: int = 64  # width of the learned temporal latent z_t of eq. 6
    audio_dropout: float = 0.1  # training rate of replacing the audio by the null condition (for guidance)
    # Issue 14 (real speakers). The defaults reproduce the v1 network, so v1 files load and sample unchanged.
    relative_motion: bool = False  # X_0 = (beta - beta_0) / std: motion relative to the source's own expression
    audio_norm: str = "global"  # "utterance": each utterance's per-column feature mean is removed first (CMVN)
    self_attention_bias: bool = False  # Algorithm 1's M also biases the self-attention over frames, not only audio
    utterance_norm_columns: int = 0  # audio_norm "utterance" centres only the first N columns (0: all); "mel80+whisper4"
    #                                   centres its mel80 part (320) and leaves Whisper's vectors to the global statistics

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "DiTConfig":
        """Build from checkpoint metadata; unknown keys are refused so a newer file fails loudly."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"DiT config: unknown fields {unknown}; this checkpoint needs a newer ComfyUI-MoDiT")
        return cls(**values)

    def __post_init__(self):
        if self.audio_norm not in AUDIO_NORMS:
            raise ValueError(f"DiT config: audio_norm {self.audio_norm!r} unknown; expected one of {AUDIO_NORMS}")

    def replace(self, **changes) -> "DiTConfig":
        return DiTConfig(**{**self.to_dict(), **changes})


def modit_paper(**overrides) -> DiTConfig:
    """The paper's network: 1 block, hidden 1024, FFN 2048, 4 heads, 12-frame training windows."""
    return DiTConfig(**{**dict(hidden_size=1024, depth=1, num_heads=4, ffn_size=2048, window=12,
                                temporal_range=12), **overrides})


def modit_embedded(**overrides) -> DiTConfig:
    """The bundled CPU-friendly network: 2 s windows (50 frames at 25 fps), ~2 M parameters (< 10 MB fp32)."""
    return DiTConfig(**{**dict(hidden_size=256, depth=2, num_heads=4, ffn_size=512, window=50,
                                temporal_range=25, latent_size=64), **overrides})


def modit_tiny(**overrides) -> DiTConfig:
    """A few thousand parameters: for tests and smoke runs only."""
    return DiTConfig(**{**dict(hidden_size=32, depth=1, num_heads=2, ffn_size=64, window=16,
                                temporal_range=8, latent_size=8), **overrides})


PRESETS = {"paper": modit_paper, "embedded": modit_embedded, "tiny": modit_tiny}


def build_config(preset: str, **overrides) -> DiTConfig:
    if preset not in PRESETS:
        raise ValueError(f"DiT preset {preset!r} unknown; expected one of {sorted(PRESETS)}")
    return PRESETS[preset](**overrides)
