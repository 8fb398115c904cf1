"""Training data (paper §3.5): corpus shards of frame-aligned audio features and expression targets.

Shard format (a directory of `*.safetensors` files, written with modit.checkpoints.save_checkpoint):
  features    [sumT, D] float16 or float32  audio features, one row per video frame at `fps`
  expression  [sumT, K] float32             target expression per frame in `space` (K = 12 for embedded-v1)
  beta_0      [U, K] float32                the source expression of each utterance (usually zeros)
  lengths     [U] int64                     frames per utterance; rows of features/expression are the U
                                            utterances concatenated in order, so sum(lengths) == sumT
  metadata    {"feature_kind": "mel80", "feature_dim": D, "fps": 25, "space": "embedded-v1"} (JSON values);
              every shard of a directory must agree on these.

Several directories may be trained on together (e.g. the synthetic corpus and real talking-head shards, issue 14);
`mix` gives each directory's share of the drawn windows (default: in proportion to its frames).

Training draws random windows of `window` frames inside utterances (a directory by `mix`, then an utterance with
probability proportional to its length, then a uniform start). Utterances shorter than the window are padded by repeating
their last frame and the padded frames are masked out of the losses.
"""
import glob
import logging
import os
from dataclasses import dataclass

import torch

from ..audio.normalization import center_utterance
from ..checkpoints import load_checkpoint

log = logging.getLogger(__name__)

REQUIRED_TENSORS = ("features", "expression", "beta_0", "lengths")
REQUIRED_METADATA = ("feature_kind", "feature_dim", "fps", "space")


@dataclass
class Batch:
    audio: torch.Tensor  # [B, L, D] float32 features (raw units)
    expression: torch.Tensor  # [B, L, K] float32 targets (raw units)
    beta_0: torch.Tensor  # [B, K] float32
    mask: torch.Tensor  # [B, L] float32, 1 = real frame, 0 = padding

    def to(self, device) -> "Batch":
        return Batch(*(v.to(device) for v in (self.audio, self.expression, self.beta_0, self.mask)))


EXPRESSION_STD_FLOOR = 0.01  # coefficient units: a channel that never moves must not make beta_0 tokens explode


class ShardDataset:
    """All utterances of one or more shard directories, held in memory (features as stored, fp16 stays fp16)."""

    def __init__(self, directory: str | list[str], mix: list[float] | None = None):
        directories = [directory] if isinstance(directory, str) else list(directory)
        if mix is not None and len(mix) != len(directories):
            raise ValueError(f"mix has {len(mix)} weights for {len(directories)} data directories; give one each")
        paths, sources = [], []
        for index, folder in enumerate(directories):
            found = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
            if not found:
                raise FileNotFoundError(f"{folder}: no *.safetensors corpus shards found; point --data at the "
                                        f"directory the corpus generator (or `python -m modit_app data extract`) wrote")
            paths += found
            sources += [index] * len(found)
        features, expressions, beta_0, lengths, utterance_source = [], [], [], [], []
        self.metadata = None
        for path, source in zip(paths, sources):
            name = os.path.basename(path)
            tensors, metadata = load_checkpoint(path)
            missing = [k for k in REQUIRED_TENSORS if k not in tensors]
            missing_meta = [k for k in REQUIRED_METADATA if k not in metadata]
            if missing or missing_meta:
                raise ValueError(f"{name}: not a corpus shard: missing tensors {missing} / metadata {missing_meta}; "
                                 f"expected tensors {list(REQUIRED_TENSORS)} and metadata {list(REQUIRED_METADATA)}")
            meta = {k: metadata[k] for k in REQUIRED_METADATA}
            if self.metadata is None:
                self.metadata = meta
            elif meta != self.metadata:
                raise ValueError(f"{name}: shard metadata {meta} differs from the first shard's {self.metadata}; "
                                 f"train on one feature kind / space at a time")
            n = tensors["lengths"].long()
            total = int(n.sum())
            if tensors["features"].shape[0] != total or tensors["expression"].shape[0] != total \
                    or tensors["beta_0"].shape[0] != n.shape[0]:
                raise ValueError(f"{name}: sum(lengths) = {total} but features has {tensors['features'].shape[0]} rows, "
                                 f"expression {tensors['expression'].shape[0]}, beta_0 {tensors['beta_0'].shape[0]} "
                                 f"(utterances {n.shape[0]}); the shard is inconsistent")
            if tensors["features"].shape[1] != int(meta["feature_dim"]):
                raise ValueError(f"{name}: features are {tensors['features'].shape[1]} wide, metadata says "
                                 f"feature_dim {meta['feature_dim']}")
            features.append(tensors["features"])
            expressions.append(tensors["expression"].float())
            beta_0.append(tensors["beta_0"].float())
            lengths.append(n)
            utterance_source.append(torch.full((n.shape[0],), source, dtype=torch.long))
        self.features = torch.cat(features)  # [sumT, D]
        self.expression = torch.cat(expressions)  # [sumT, K]
        self.beta_0 = torch.cat(beta_0)  # [U, K]
        self.lengths = torch.cat(lengths)  # [U]
        self.starts = torch.cumsum(self.lengths, 0) - self.lengths  # [U] first row of each utterance
        self.source = torch.cat(utterance_source)  # [U] index of the directory each utterance came from
        frames = torch.zeros(len(directories)).index_add_(0, self.source, self.lengths.float())
        self.mix = torch.tensor(mix, dtype=torch.float64) if mix is not None else frames.double()
        self.mix = self.mix / self.mix.sum()
        log.info("corpus %s: %d shards, %d utterances, %d frames (%.1f min at %s fps), %s features, space %s",
                 ", ".join(directories), len(paths), len(self.lengths), self.features.shape[0],
                 self.features.shape[0] / float(self.metadata["fps"]) / 60, self.metadata["fps"],
                 self.metadata["feature_kind"], self.metadata["space"])

    @property
    def feature_dim(self) -> int:
        return self.features.shape[1]

    @property
    def expression_dim(self) -> int:
        return self.expression.shape[1]

    def center_features_per_utterance(self, columns: int | None = None) -> None:
        """Remove each utterance's own per-column feature mean (config audio_norm "utterance"; the sampler does the
        same over the whole input audio), from the first `columns` columns only if given. Features become float32."""
        features = self.features.float()
        for start, length in zip(self.starts.tolist(), self.lengths.tolist()):
            rows = slice(start, start + length)
            features[rows] = center_utterance(features[rows], columns)
        self.features = features

    def utterance_rows(self) -> torch.Tensor:
        """[sumT] index of the utterance each row belongs to."""
        return torch.repeat_interleave(torch.arange(len(self.lengths)), self.lengths)

    def statistics(self, relative_motion: bool = False) -> dict:
        """Per-channel mean and std of audio and expression (the network's normalisation buffers).

        relative_motion: the std is that of the motion relative to each utterance's beta_0 (the diffusion
        variable of such a network); the mean stays the absolute one (it centres the beta_0 token).
        With several directories every frame counts by its directory's `mix` share, i.e. the statistics are those of
        the windows training will draw: otherwise a large synthetic corpus that never moves the brows would make a
        small real set's brow motion read as six standard deviations.
        """
        features = self.features.float()
        rows = self.utterance_rows()
        motion = self.expression - self.beta_0[rows] if relative_motion else self.expression
        std_floor = EXPRESSION_STD_FLOOR if relative_motion else 1e-3  # 1e-3: the v1 rule, kept for v1 retraining
        if len(self.mix) == 1:
            return {"audio_mean": features.mean(0), "audio_std": features.std(0).clamp(min=1e-3),
                    "expression_mean": self.expression.mean(0), "expression_std": motion.std(0).clamp(min=std_floor)}
        source_frames = torch.zeros(len(self.mix)).index_add_(0, self.source, self.lengths.float())
        weight = (self.mix.float() / source_frames)[self.source[rows]][:, None]  # [sumT, 1], sums to 1

        def mean_std(x):
            mean = (weight * x).sum(0)
            return mean, ((weight * (x - mean) ** 2).sum(0)).sqrt()

        audio_mean, audio_std = mean_std(features)
        expression_mean, _ = mean_std(self.expression)
        _, motion_std = mean_std(motion)
        return {"audio_mean": audio_mean, "audio_std": audio_std.clamp(min=1e-3), "expression_mean": expression_mean,
                "expression_std": motion_std.clamp(min=std_floor)}

    def sample_batch(self, batch_size: int, window: int, generator: torch.Generator) -> Batch:
        """batch_size random windows of `window` frames (see the module docstring)."""
        if len(self.mix) == 1:
            weights = self.lengths.float()
        else:  # P(utterance) = mix[its source] * its share of that source's frames
            source_frames = torch.zeros(len(self.mix)).index_add_(0, self.source, self.lengths.float())
            weights = (self.mix.float()[self.source] * self.lengths.float() / source_frames[self.source])
        utterances = torch.multinomial(weights, batch_size, replacement=True, generator=generator)  # [B]
        room = (self.lengths[utterances] - window).clamp(min=0)  # [B] last possible offset
        offsets = (torch.rand(batch_size, generator=generator) * (room + 1).float()).long().clamp(max=room)
        frames = torch.arange(window)
        length = self.lengths[utterances]
        local = torch.minimum(offsets[:, None] + frames, (length - 1)[:, None])  # [B, L] repeat the last frame
        rows = self.starts[utterances][:, None] + local  # [B, L]
        mask = ((offsets[:, None] + frames) < length[:, None]).float()  # [B, L]
        return Batch(audio=self.features[rows].float(), expression=self.expression[rows],
                     beta_0=self.beta_0[utterances], mask=mask)
