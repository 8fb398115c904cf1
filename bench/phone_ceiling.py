"""Does a real phone recogniser carry lip sync to unseen speakers better than our mel80 features? (issue 14)

bench/lipsync_ceiling.py showed that a supervised 1-D conv from mel80 to the measured mouth opening reaches only
r 0.39 / 0.44 on the speaker-disjoint val clips, limited by ~7 min of real training speech. A phone recogniser trained
on hundreds of hours (PocketSphinx's en-us acoustic model) brings outside knowledge. This bench decodes each shard's
speech to phones, turns them into a per-video-frame occupancy (fraction of the frame's 40 ms covered by each of 39 CMU
phones + SIL, or by 12 viseme groups), and trains the same conv regressor (same split, same scoring) on:
phones alone, visemes alone, phones + mel80, beside mel80 alone and loudness.

    OMP_NUM_THREADS=1 nice -n 10 python bench/phone_ceiling.py --epochs 10 [--decoders allphone_2.0_0.3 words]
        [--only phones visemes+mel] [--seeds 3] [--train-fraction 0.5]

Decoders (--decoders): allphone_<lw>_<pip> (phone-loop search with the bundled phone LM, language weight lw, phone
insertion probability pip), words (the bundled word LM + cmudict; each word's dictionary phones share its frames
evenly). With several decoders, "ensemble" also trains on their mean occupancy. Decoded phones are cached as JSON under --cache. Needs `pip install pocketsphinx` (bench/requirements.txt).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

import lipsync_ceiling as ceiling  # bench/ is sys.path[0] when this file runs: siblings import
from _pack import load_pack

load_pack()
import phone_features as phones  # noqa: E402  (bench-only: PocketSphinx is not a runtime dependency)
from comfyui_modit.modit.data import video  # noqa: E402

TALKING = "/work/shared/data/talking"


def speech_16k(source_file: str) -> np.ndarray:
    """The clip's speech as the shard saw it (paired wav or audio track, sample 0 = first picture): 16 kHz float."""
    import librosa

    sound = video.read_sound(os.path.join(TALKING, source_file))
    wave = sound.waveform.astype(np.float32)
    if sound.sample_rate != phones.SAMPLE_RATE:
        wave = librosa.resample(wave, orig_sr=sound.sample_rate, target_sr=phones.SAMPLE_RATE)
    return wave


def decode(wave: np.ndarray, decoder: str) -> list[tuple[str, int, int]]:
    """(phone, first 10 ms frame, last frame inclusive) for the whole clip as one utterance."""
    if decoder.startswith("allphone"):
        _, lw, pip = decoder.split("_")
        return phones.decode_segments(wave, float(lw), float(pip))
    if decoder == "words":
        from pocketsphinx import Decoder

        d = Decoder(loglevel="ERROR")
        d.start_utt()
        d.process_raw((np.clip(wave, -1, 1) * 32767).astype(np.int16).tobytes(), full_utt=True)
        d.end_utt()
        out = []
        for s in d.seg():
            word = s.word.split("(")[0]
            pron = (d.lookup_word(s.word) or d.lookup_word(word)) if not word.startswith(("<", "[", "+")) else None
            units = pron.split() if pron else ["SIL"]
            edges = np.linspace(s.start_frame, s.end_frame + 1, len(units) + 1)
            out += [(p, int(round(a)), int(round(b)) - 1) for p, a, b in zip(units, edges[:-1], edges[1:])
                    if int(round(b)) - 1 >= int(round(a))]
        return out
    raise ValueError(f"unknown decoder {decoder!r}")


def attach_phones(split: list[dict], shards: str, name: str, decoder: str, cache: str) -> float:
    """Adds u["phones"][decoder] = occupancy rows of the utterance's frames; returns decode seconds (uncached)."""
    spent = 0.0
    folder = os.path.join(cache, decoder)
    os.makedirs(folder, exist_ok=True)
    for clip in split:
        meta = json.load(open(os.path.join(shards, name, clip["name"] + ".json")))
        path = os.path.join(folder, clip["name"] + ".json")
        if os.path.exists(path):
            segments = [tuple(s) for s in json.load(open(path))]
        else:
            t = time.time()
            segments = decode(speech_16k(meta["source_file"]), decoder)
            spent += time.time() - t
            json.dump(segments, open(path, "w"))
        frames = int(meta["frames"])
        occ = phones.occupancy(phones.phone_labels(segments, frames * 4), frames, 25.0)
        for u in clip["utterances"]:
            u.setdefault("phones", {})[decoder] = torch.from_numpy(occ[u["frame_index"].numpy()])
    return spent


def smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian smoothing along time (frames), edges repeated."""
    k = int(np.ceil(3 * sigma))
    w = torch.exp(-0.5 * (torch.arange(-k, k + 1, dtype=torch.float32) / sigma) ** 2)
    w = (w / w.sum()).view(1, 1, -1).repeat(x.shape[1], 1, 1)
    padded = torch.nn.functional.pad(x.T[None], (k, k), mode="replicate")
    return torch.nn.functional.conv1d(padded, w, groups=x.shape[1])[0].T


def featurizers(decoder: str) -> dict:
    vis = torch.from_numpy(phones.viseme_matrix())
    mel = lambda u: ceiling.prepare(u["features"], False, False, False)  # noqa: E731  the conv_ctx7 input
    if decoder == "ensemble":  # the mean occupancy of every decoder attached: a crude soft posterior
        ph = lambda u: torch.stack(list(u["phones"].values())).mean(0)  # noqa: E731
    else:
        ph = lambda u: u["phones"][decoder]  # noqa: E731
    level = lambda u: ((u["level"] - u["level"].mean()) / 10)[:, None]  # noqa: E731
    return {
        "phones": ph,
        "phones_smooth1": lambda u: smooth(ph(u), 1.0),
        "visemes": lambda u: ph(u) @ vis,
        "phones+mel": lambda u: torch.cat([ph(u), mel(u)], 1),
        "visemes+mel": lambda u: torch.cat([ph(u) @ vis, mel(u)], 1),
        "phones+level": lambda u: torch.cat([ph(u), level(u)], 1),
    }


def run(train, val, featurize, seeds: int, epochs: int) -> tuple[np.ndarray, np.ndarray]:
    results = []
    for seed in range(seeds):
        f = ceiling.train_conv(train, ceiling.VARIANTS["conv_ctx7"], seed, epochs, featurize=featurize)
        results.append((*ceiling.score(val, f), ceiling.score(train, f)[0]))
    return np.mean(results, axis=0), np.std(results, axis=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", default="/work/data/real/shards")
    parser.add_argument("--cache", default="/work/out/phones/cache")
    parser.add_argument("--decoders", nargs="*", default=["allphone_2.0_0.3", "allphone_4.0_0.1", "allphone_1.0_1.0",
                                                          "words"])
    parser.add_argument("--only", nargs="*", default=None, help="feature variants to run (default all)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--train-fraction", type=float, default=1.0, help="use this share of train clips (data amount)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, val = ceiling.load_splits(args.shards, args.train_fraction)
    print(f"{ceiling.split_summary(train, val)}; {args.seeds} seeds")
    print(f"{'decoder':18s} {'features':16s} {'val r0':>7s} {'val r+-1':>8s} {'(sd)':>6s} {'train r0':>8s}", flush=True)
    if not args.no_baselines:
        f = lambda u: u["level"].numpy()  # noqa: E731
        print(f"{'-':18s} {'loudness':16s} {ceiling.score(val, f)[0]:7.3f} {ceiling.score(val, f)[1]:8.3f} "
              f"{'':6s} {ceiling.score(train, f)[0]:8.3f}", flush=True)
        mean, sd = run(train, val, None, args.seeds, args.epochs)
        print(f"{'-':18s} {'mel80 conv':16s} {mean[0]:7.3f} {mean[1]:8.3f} {sd[1]:6.3f} {mean[2]:8.3f}", flush=True)
    for decoder in args.decoders + (["ensemble"] if len(args.decoders) > 1 else []):
        if decoder == "ensemble":
            spent = 0.0
        else:
            spent = attach_phones(train, args.shards, "train", decoder, args.cache)
            spent += attach_phones(val, args.shards, "val", decoder, args.cache)
        if spent:
            print(f"# decoded with {decoder} in {spent:.0f} s for {(ceiling.frames_in(train) + ceiling.frames_in(val)) / 25:.0f} s of kept speech "
                  "(whole clips decoded)", flush=True)
        for name, featurize in featurizers(decoder).items():
            if args.only is not None and name not in args.only:
                continue
            mean, sd = run(train, val, featurize, args.seeds, args.epochs)
            print(f"{decoder:18s} {name:16s} {mean[0]:7.3f} {mean[1]:8.3f} {sd[1]:6.3f} {mean[2]:8.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
