"""How well can the mouth opening of an unseen speaker be predicted from our audio features at all? (issue 14)

A ceiling for the DiT's lip sync: small supervised regressors from the shards' mel80 features to the shard's own
mouth opening (inner-lip gap / inter-ocular distance, the bench's measure), trained on the train split and scored
on the speaker-disjoint val split, beside the per-frame loudness predictor (level_db). Pearson r per val clip at
lag 0 and best of lags -1..+1, averaged over clips, like bench/real_motion.py.

    OMP_NUM_THREADS=1 nice -n 10 python bench/lipsync_ceiling.py [--shards /work/data/real/shards] [--only NAME ...]

Variants (--only): loud (level_db), ridge (linear, +-7 frames of mel), conv (1-D conv net with the given context),
with / without per-utterance variance normalisation, delta features, noise/gain augmentation, longer context.
Reads shards written by `python -m modit.data build`; writes nothing.
"""
import argparse
import glob
import os
import sys

import numpy as np
import torch
from torch import nn

from _pack import load_pack  # bench/ is sys.path[0] when this file runs: siblings import

load_pack()
from comfyui_modit.modit.audio.normalization import center_utterance  # noqa: E402
from comfyui_modit.modit.checkpoints import load_checkpoint  # noqa: E402


def load_split(folder: str) -> list[dict]:
    """One dict per clip: its name, speaker id (the name where none is recorded) and utterances as lists of
    (features [T, 320], mouth [T], level [T])."""
    clips = []
    for path in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
        tensors, metadata = load_checkpoint(path)
        lengths = tensors["lengths"].long().tolist()
        if not lengths or sum(lengths) < 25:
            continue
        utterances, start = [], 0
        for n in lengths:
            sl = slice(start, start + n)
            start += n
            if n < 25:
                continue
            utterances.append({"features": tensors["features"][sl].float(), "mouth": tensors["mouth_open"][sl].float(),
                               "level": tensors["level_db"][sl].float(), "frame_index": tensors["frame_index"][sl]})
        if utterances:
            name = os.path.basename(path)[:-12]
            clips.append({"name": name, "speaker": metadata.get("speaker", name), "utterances": utterances})
    return clips


def load_splits(shards: str, train_fraction: float = 1.0, exclude=()) -> tuple[list[dict], list[dict]]:
    """(train, val) clips of a shards folder. Train drops clips whose name contains one of `exclude`, then keeps every
    round(1 / train_fraction)-th clip (the data-amount experiments of every ceiling bench use the same clips)."""
    train = [c for c in load_split(os.path.join(shards, "train")) if not any(x in c["name"] for x in exclude)]
    if train_fraction < 1:
        train = train[::int(round(1 / train_fraction))]
    return train, load_split(os.path.join(shards, "val"))


def frames_in(clips: list[dict]) -> int:
    """Kept video frames over all utterances of the clips."""
    return sum(len(u["mouth"]) for c in clips for u in c["utterances"])


def split_summary(train: list[dict], val: list[dict]) -> str:
    """'train N clips F frames; val N clips F frames'."""
    return f"train {len(train)} clips {frames_in(train)} frames; val {len(val)} clips {frames_in(val)} frames"


def load_synthetic(folder: str, real_train: str, utterances: int) -> list[dict]:
    """Synthetic corpus utterances with a mouth-opening target read out of their expression by the line fitted on
    the real train shards (modit/train/mouth_readout.py): does eSpeak data help the real-speaker ceiling?"""
    from comfyui_modit.modit.train.mouth_readout import fit_mouth_readout

    w, b, _ = fit_mouth_readout([real_train])
    out = []
    for path in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
        tensors, _ = load_checkpoint(path)
        start = 0
        for n in tensors["lengths"].long().tolist():
            sl = slice(start, start + n)
            start += n
            if len(out) >= utterances:
                break
            mouth = tensors["expression"][sl].float() @ w + b
            out.append({"features": tensors["features"][sl].float(), "mouth": mouth, "level": mouth})
    return [{"name": "synthetic", "utterances": out}]


def prepare(features: torch.Tensor, variance: bool, deltas: bool, bands_only: bool) -> torch.Tensor:
    """Raw [T, 320] -> the network input [T, D]: utterance-centred, optionally unit-variance, deltas."""
    x = center_utterance(features)
    if bands_only:
        x = x.view(-1, 4, 80).mean(dim=1)
    if variance:
        x = x / x.std(dim=0, keepdim=True).clamp_min(0.3)
    if deltas:
        d = torch.zeros_like(x)
        d[1:-1] = (x[2:] - x[:-2]) / 2
        x = torch.cat([x, d], dim=1)
    return x


def zscore(y: torch.Tensor) -> torch.Tensor:
    return (y - y.mean()) / y.std().clamp_min(1e-6)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 1e-12 else 0.0


def lagged_pearson(x: np.ndarray, real: np.ndarray, lag: int) -> float:
    """r of x at t + lag against real at t (lag > 0: x is late by `lag` frames)."""
    T = len(x)
    return pearson(x[max(lag, 0):T + min(lag, 0)], real[max(-lag, 0):T - max(lag, 0)])


def lagged_r(x: np.ndarray, real: np.ndarray) -> tuple[float, float]:
    rs = {lag: lagged_pearson(x, real, lag) for lag in (-1, 0, 1)}
    return rs[0], max(rs.values())


def score(clips: list[dict], predict) -> tuple[float, float]:
    """Mean over clips of (r lag 0, best of +-1); a clip's utterances are concatenated."""
    r0, r1 = [], []
    for clip in clips:
        pred = np.concatenate([predict(u) for u in clip["utterances"]])
        real = np.concatenate([u["mouth"].numpy() for u in clip["utterances"]])
        a, b = lagged_r(pred, real)
        r0.append(a)
        r1.append(b)
    return float(np.mean(r0)), float(np.mean(r1))


class ConvRegressor(nn.Module):
    """Features [B, T, D] -> mouth opening [B, T]: conv layers whose receptive field is +-context frames."""

    def __init__(self, dim: int, context: int, width: int = 64, dropout: float = 0.2):
        super().__init__()
        layers, reach, d = [], 0, dim
        while reach < context:
            k = min(3, context - reach)
            layers += [nn.Conv1d(d, width, 2 * k + 1, padding=k), nn.GELU(), nn.Dropout(dropout)]
            reach += k
            d = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv1d(d, 1, 1)

    def forward(self, x):
        return self.head(self.body(x.transpose(1, 2))).squeeze(1)


def train_conv(train: list[dict], opts: dict, seed: int = 0, epochs: int = 40, featurize=None) -> callable:
    """featurize(utterance) -> network input [T, D]; default: the mel80 features through prepare() with opts."""
    if featurize is None:
        featurize = lambda u: prepare(u["features"], opts["variance"], opts["deltas"], opts["bands"])  # noqa: E731
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    items = [(featurize(u), zscore(u["mouth"])) for c in train for u in c["utterances"]]
    clip_frames = [sum(len(u["mouth"]) for u in c["utterances"]) for c in train for _ in c["utterances"]]
    dim = items[0][0].shape[1]
    model = ConvRegressor(dim, opts["context"], opts.get("width", 64))
    optim = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    window = 64
    steps_per_epoch = max(1, sum(len(y) for _, y in items) // (window * 16))
    weights = np.array([len(y) for _, y in items], float)
    if opts.get("balance"):  # every clip alike, however long: a few long clips of one speaker must not dominate
        weights = weights / np.array(clip_frames, float)
    weights /= weights.sum()
    for _ in range(epochs):
        for _ in range(steps_per_epoch):
            xs, ys = [], []
            for i in rng.choice(len(items), 16, p=weights):
                x, y = items[i]
                if opts.get("augment"):  # gain and spectral tilt shifts, then re-centred (or the given augment(x, rng))
                    raw = (opts["augment"] if callable(opts["augment"]) else train_raw_aug)(x, rng)
                else:
                    raw = x
                s = int(rng.integers(0, max(1, len(y) - window + 1)))
                xw, yw = raw[s:s + window], y[s:s + window]
                pad = window - len(yw)
                if pad:
                    xw = torch.cat([xw, xw[-1:].expand(pad, -1)])
                    yw = torch.cat([yw, yw[-1:].expand(pad)])
                xs.append(xw)
                ys.append(yw)
            x, y = torch.stack(xs), torch.stack(ys)
            loss = ((model(x) - y) ** 2).mean()
            optim.zero_grad()
            loss.backward()
            optim.step()
    model.eval()

    def predict(u):
        with torch.no_grad():
            return model(featurize(u)[None])[0].numpy()

    return predict


def train_raw_aug(x: torch.Tensor, rng) -> torch.Tensor:
    """Additive per-band tilt and per-frame noise on already-centred features (a microphone / room change)."""
    d = x.shape[1]
    tilt = torch.from_numpy(rng.normal(0, 0.3, d).astype(np.float32))
    return x + tilt + 0.1 * torch.randn_like(x)


def ridge(train: list[dict], context: int = 7, alpha: float = 100.0) -> callable:
    def stack(u):
        x = prepare(u["features"], False, False, True).numpy()
        T = len(x)
        padded = np.pad(x, ((context, context), (0, 0)), mode="edge")
        return np.concatenate([padded[i:i + T] for i in range(2 * context + 1)], axis=1)

    X = np.concatenate([stack(u) for c in train for u in c["utterances"]])
    y = np.concatenate([zscore(u["mouth"]).numpy() for c in train for u in c["utterances"]])
    mu = X.mean(0)
    Xc = X - mu
    w = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (y - y.mean()))
    return lambda u: (stack(u) - mu) @ w


VARIANTS = {
    "conv_ctx7": {"context": 7, "variance": False, "deltas": False, "bands": False},
    "conv_ctx7_bands": {"context": 7, "variance": False, "deltas": False, "bands": True},
    "conv_ctx7_var": {"context": 7, "variance": True, "deltas": False, "bands": False},
    "conv_ctx7_delta": {"context": 7, "variance": False, "deltas": True, "bands": True},
    "conv_ctx7_aug": {"context": 7, "variance": False, "deltas": False, "bands": False, "augment": True},
    "conv_ctx7_balanced": {"context": 7, "variance": False, "deltas": False, "bands": False, "balance": True},
    "conv_ctx3": {"context": 3, "variance": False, "deltas": False, "bands": False},
    "conv_ctx15": {"context": 15, "variance": False, "deltas": False, "bands": False},
}


def per_clip(train: list[dict], val: list[dict], epochs: int) -> None:
    f = train_conv(train, VARIANTS["conv_ctx7"], 0, epochs)
    print(f"{'val clip':44s} {'frames':>6s} {'conv r0':>7s} {'best lag':>8s} {'r there':>7s} {'loud r0':>7s} "
          f"{'best lag':>8s} {'r there':>7s}")
    for clip in val:
        real = np.concatenate([u["mouth"].numpy() for u in clip["utterances"]])
        cells = []
        for pred in (np.concatenate([f(u) for u in clip["utterances"]]),
                     np.concatenate([u["level"].numpy() for u in clip["utterances"]])):
            T = len(pred)
            rs = {lag: pearson(pred[max(lag, 0):T + min(lag, 0)], real[max(-lag, 0):T - max(lag, 0)])
                  for lag in range(-8, 9)}
            best = max(rs, key=rs.get)
            cells += [f"{rs[0]:7.2f}", f"{best:8d}", f"{rs[best]:7.2f}"]
        print(f"{clip['name'][:44]:44s} {len(real):6d} " + " ".join(cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", default="/work/data/real/shards")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--per-clip", action="store_true", help="per val clip: r of conv_ctx7 and loudness at lags "
                        "-8..+8 (is the audio-video offset a limit?)")
    parser.add_argument("--synthetic", default=None, help="also train on this synthetic corpus folder")
    parser.add_argument("--synthetic-utterances", type=int, default=400)
    parser.add_argument("--exclude", nargs="*", default=[], help="drop train clips whose name contains one of these")
    parser.add_argument("--train-fraction", type=float, default=1.0, help="use this share of train clips (data amount)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, val = load_splits(args.shards, args.train_fraction, args.exclude)
    if args.synthetic:
        train = train + load_synthetic(args.synthetic, os.path.join(args.shards, "train"), args.synthetic_utterances)
    print(split_summary(train, val))
    if args.per_clip:
        per_clip(train, val, args.epochs)
        return 0
    wanted = lambda name: args.only is None or name in args.only  # noqa: E731
    print(f"{'predictor':22s} {'val r0':>7s} {'val r+-1':>8s} {'train r0':>8s}")
    if wanted("loud"):
        f = lambda u: u["level"].numpy()  # noqa: E731
        print(f"{'loudness (level_db)':22s} {score(val, f)[0]:7.3f} {score(val, f)[1]:8.3f} {score(train, f)[0]:8.3f}",
              flush=True)
    if wanted("ridge"):
        f = ridge(train)
        print(f"{'ridge +-7 mel80':22s} {score(val, f)[0]:7.3f} {score(val, f)[1]:8.3f} {score(train, f)[0]:8.3f}",
              flush=True)
    for name, opts in VARIANTS.items():
        if not wanted(name):
            continue
        results = []
        for seed in range(args.seeds):
            f = train_conv(train, opts, seed, args.epochs)
            results.append((*score(val, f), score(train, f)[0]))
        a = np.mean(results, axis=0)
        print(f"{name:22s} {a[0]:7.3f} {a[1]:8.3f} {a[2]:8.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
