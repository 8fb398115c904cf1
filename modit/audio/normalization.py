"""Per-utterance feature normalisation (cepstral-mean style) for DiTs whose config says audio_norm "utterance".

A recording's level and microphone colour add a constant to every log-mel band; removing the utterance's own mean
per feature column makes eSpeak voices, studio speech and a phone recording look alike to the network.

One case needs a rule of its own: an input with no speech at all (digital silence, steady room noise) has no
speech to centre on, and its mean-removed frames would sit at the average of a talking utterance, i.e. read as
speech. Such an input (level range p95 - p5 below SPEECH_RANGE) is centred SILENT_OFFSET above its own level
instead, which is where a talking utterance's mean sits relative to its pauses in the training data (synthetic
corpus: pauses ~1.0 below the mean, real clips ~0.8, in mel80 units of 12.5 dB).
"""
import torch

SPEECH_RANGE = 0.8  # mel80 units (10 dB) between a frame-level 5th and 95th percentile: below it, no speech
SILENT_OFFSET = 1.2  # mel80 units (15 dB): where a silent input's centre is put above its own level


def utterance_centre(features, columns: int | None = None) -> torch.Tensor:
    """The per-column centre of one utterance's raw features [T, D] (a tensor or a FeatureTrack) -> [D].

    columns: only the first `columns` columns are centred (the mel80 part of "mel80+whisper4"); the rest get a zero
    centre, and the speech test reads the level of the centred columns only. A track's compute_stats() level is
    already that of its centred columns (features.StackedTrack).
    """
    if torch.is_tensor(features):
        part = features if columns is None else features[:, :columns]
        mean = part.mean(dim=0)
        level = part.mean(dim=1)  # [T] frame level (mean over bands and sub-steps)
    else:  # a FeatureTrack: its one-pass statistics, never the whole [T, D]
        stats_columns = getattr(features, "stats_columns", features.shape[1])
        if (columns or features.shape[1]) > stats_columns:
            raise ValueError(f"utterance centring over {columns or features.shape[1]} columns, but these features "
                             f"have statistics for their first {stats_columns} only: the DiT's utterance_norm_columns "
                             f"must be {stats_columns} for this feature kind")
        mean, level = features.compute_stats()
        mean = mean if columns is None else mean[:columns]
    if level.numel() < 2:
        centre = mean + SILENT_OFFSET
    else:
        low, high = torch.quantile(level.float(), torch.tensor([0.05, 0.95], device=level.device)).tolist()
        centre = mean if high - low >= SPEECH_RANGE else mean + SILENT_OFFSET
    if columns is not None:
        centre = torch.cat([centre, centre.new_zeros(features.shape[1] - columns)])
    return centre


def center_utterance(features: torch.Tensor, columns: int | None = None) -> torch.Tensor:
    """features [T, D] minus utterance_centre."""
    return features - utterance_centre(features, columns)
