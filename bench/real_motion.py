"""Lip sync on real speakers (issue 14, Measure): the default workflow animates each validation clip's first frame with
that clip's own speech; the rendered frames and the real video's frames are measured the same way (embedded face
stack) and compared.

    OMP_NUM_THREADS=1 nice -n 10 python bench/real_motion.py                       # the default workflow as shipped
    OMP_NUM_THREADS=1 nice -n 10 python bench/real_motion.py --dit modit/weights/modit_embedded_v1.safetensors
    ... --fast            # no render: the driven mesh instead of re-measured frames (for model selection only)
    ... --frames-out /work/out/motion-dit/v1   # real | generated frames as PNG contact sheets (outside git)
    ... --av-offsets modit/train/real/av_offsets_val   # also r with the clips whose own sound is late put in sync

Per clip and overall:
  r0 / r+-1    Pearson r between generated and real mouth opening at lag 0, and the best of lags -1..+1
  loud0/loud1  the same r for a per-frame loudness predictor (log RMS above the clip's floor) against the real mouth
  hf gen/real  share of mouth-opening power above 6 Hz, generated and real (their ratio: target 0.7-1.3)
  pause g/r    mean opening in pauses > 300 ms (speech activity of the audio; 2 frames trimmed at each edge),
               generated and real (target: generated <= real + 0.02)
  pre g/r      mean opening before the first word (frames up to 2 before the first speech frame)
  std g/r      amplitude (std of the opening) generated and real
Overall also the mean r at lags -3..+3 (where the generated mouth peaks against the real one), and with --av-offsets
r lag 0 / best of +-1 with each listed clip's lag k taken as its lag 0 (its sound late by k frames, as an independent
scan measured it: bench/av_offsets.py --write-val). --json keeps both curves per clip.
Mouth opening = inner-lip gap (mesh 13-14) over the inter-ocular distance (outer eye corners 33-263), in the image
plane. Real clips are measured on frames scaled to at most 512 px and resampled to 25 fps; the portrait is the
first such frame. Real measurements are cached (--cache).

Smile test: a closed-smile source on 3 s of silence; the mouth-corner channel (corners_up) of the re-measured
rendered frames must stay within 20 % of the source's own (the DiT's sampled value is printed beside it).

Validation clips: the `val` rows of modit/train/real/manifest when it exists (speaker-disjoint from training),
else FALLBACK_VAL. Reads ../shared/data/talking and ../shared/data/faces; writes nothing into the repository.
"""
import argparse
import json
import os
import sys
import tempfile
import wave
from importlib import import_module

import numpy as np
import torch
from gallery_video import read_audio  # bench/ sibling: one PyAV audio decoder for the benches

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
TALKING = os.path.join(SHARED, "talking")
SMILE_SOURCE = os.path.join(SHARED, "faces", "asian_woman_bangs_earrings_side_light.jpg")  # closed-lip smile
MANIFEST = os.path.join(ROOT, "modit", "train", "real", "manifest")
WORKFLOW = os.path.join(ROOT, "workflows", "api", "modit_basic.json")
FPS = 25.0
MAX_SIDE = 512
# Used only until modit/train/real/manifest names a validation split: one clip each of speakers chosen to be
# held out of training (distinct people, frontal, continuous speech).
FALLBACK_VAL = ("Hangz-nju-cuhk__Talking-Face_PC-AVS__00098.mp4", "FuxiVirtualHuman__styletalk__KristiNoem.mp4",
                "smeetrs__deep_avsr__00001.mp4", "yerfor__Real3DPortrait__May_5s.mp4",
                "jixinya__EAMM__M030_sad_3_001.mp4", "ajay-sainy__Wav2Lip-GFPGAN__kim_7s_raw.mp4")
UPPER_INNER_LIP, LOWER_INNER_LIP = 13, 14
EYE_OUTER_RIGHT, EYE_OUTER_LEFT = 33, 263
SHOWN_LAGS = tuple(range(-3, 4))  # lags whose mean r the summary prints (where the generated mouth peaks)
HF_CUTOFF_HZ = 6.0
PAUSE_MIN_FRAMES = 8  # > 300 ms at 25 fps
PAUSE_TRIM = 2  # frames trimmed at each pause edge (the mouth closes over ~80 ms after a word)
CACHE_VERSION = 1


def _pack():
    from _pack import load_pack

    return load_pack().__name__


def mod(name: str):
    return import_module(f"{_pack()}.modit.{name}")


# ------------------------------------------------------------------ inputs

def validation_clips() -> list[str]:
    """File names of the validation clips: the manifest's val split, else the fallback list."""
    if os.path.isfile(MANIFEST):
        names = []
        with open(MANIFEST) as f:
            for line in f:
                cells = [c.strip() for c in line.replace("|", "\t").replace(",", "\t").split("\t")]
                if "val" in cells:
                    names += [c for c in cells if c.lower().endswith((".mp4", ".mov", ".mpg", ".avi", ".mkv"))][:1]
        if names:
            return names
    return list(FALLBACK_VAL)


def read_clip(path: str, max_seconds: float):
    """(frames [N, H, W, 3] uint8 at most MAX_SIDE px, fps, mono waveform float32, sample rate); a paired .wav with
    the same stem is preferred to the container's sound."""
    import av
    import cv2

    frames = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or FPS)
        for frame in container.decode(stream):
            if len(frames) >= int(max_seconds * fps):
                break
            image = frame.to_ndarray(format="rgb24")
            scale = MAX_SIDE / max(image.shape[:2])
            if scale < 1:
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            frames.append(image)
    sound = os.path.splitext(path)[0] + ".wav"
    waveform, rate = read_audio(sound if os.path.isfile(sound) else path)
    return np.stack(frames), fps, waveform[:int(max_seconds * rate)], rate


def resample_curve(values: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
    """values [N, ...] at fps -> [num_frames, ...] at 25 fps (linear in time)."""
    if abs(fps - FPS) < 1e-3:
        return values[:num_frames]
    t_src = np.arange(values.shape[0]) / fps
    t = np.arange(num_frames) / FPS
    flat = values.reshape(values.shape[0], -1)
    out = np.stack([np.interp(t, t_src, flat[:, i]) for i in range(flat.shape[1])], axis=1)
    return out.reshape((num_frames,) + values.shape[1:])


def write_wav(path: str, waveform: np.ndarray, rate: int) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(waveform, -1, 1) * 32767).astype(np.int16).tobytes())


# ------------------------------------------------------------------ measurements

def opening(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap over inter-ocular distance per frame: landmarks [T, 468, >=2] -> [T]."""
    gap = np.linalg.norm(landmarks[:, LOWER_INNER_LIP, :2] - landmarks[:, UPPER_INNER_LIP, :2], axis=-1)
    eyes = np.linalg.norm(landmarks[:, EYE_OUTER_LEFT, :2] - landmarks[:, EYE_OUTER_RIGHT, :2], axis=-1)
    return gap / np.maximum(eyes, 1e-6)


def track_opening(frames: torch.Tensor) -> np.ndarray:
    """Mouth opening of [T, H, W, 3] 0..1 frames, re-measured with the face stack."""
    track = mod("quality.tracking").track_faces(frames)
    return opening(track.landmarks.numpy())


def real_measurement(name: str, max_seconds: float, cache: str) -> dict:
    """{opening [T], frames path info...} for a real clip at 25 fps; cached per clip."""
    key = os.path.join(cache, f"{os.path.splitext(name)[0]}_{max_seconds:g}s_v{CACHE_VERSION}.npz")
    frames, fps, waveform, rate = read_clip(os.path.join(TALKING, name), max_seconds)
    T = int(min(frames.shape[0] / fps, waveform.shape[0] / rate) * FPS)
    if os.path.isfile(key):
        data = dict(np.load(key))
    else:
        data = {"opening": resample_curve(track_opening(torch.from_numpy(frames).float() / 255.0), fps, T)}
        os.makedirs(cache, exist_ok=True)
        np.savez(key, **data)
    index = np.minimum((np.arange(T) / FPS * fps).round().astype(int), frames.shape[0] - 1)
    return {"opening": data["opening"][:T], "frames": frames[index], "waveform": waveform, "rate": rate, "T": T}


def speech_frames(waveform: np.ndarray, rate: int, num_frames: int) -> np.ndarray:
    """[T] bool: frames whose level is within 25 dB of the clip's loud level (95th percentile), above -50 dBFS."""
    mean_square = mod("audio.loudness").frame_mean_square(waveform, rate, FPS, num_frames)
    level = 10 * np.log10(mean_square + 1e-12)
    loud = max(float(np.percentile(level, 95)), -40.0)
    return (level > loud - 25.0) & (level > -50.0)


def loudness_predictor(waveform: np.ndarray, rate: int, num_frames: int) -> np.ndarray:
    return mod("quality.lip_sync").speech_envelope(waveform, rate, num_frames, FPS)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 1e-12 else 0.0


def r_by_lag(x: np.ndarray, real: np.ndarray, lags=(-1, 0, 1)) -> dict:
    """{lag: Pearson r of x[t] with real[t - lag]}: at a positive lag x runs late of the real mouth."""
    T = len(x)
    return {lag: pearson(x[max(lag, 0):T + min(lag, 0)], real[max(-lag, 0):T - max(lag, 0)]) for lag in lags}


def lagged_r(x: np.ndarray, real: np.ndarray, lags=(-1, 0, 1), centre: int = 0) -> tuple[float, float]:
    """(r at lag `centre`, best r over lags); x[t] compared with real[t - lag]."""
    rs = r_by_lag(x, real, lags)
    return rs[centre], max(rs.values())


def high_frequency_share(x: np.ndarray) -> float:
    """Share of the (mean-removed) curve's power above HF_CUTOFF_HZ."""
    x = x - x.mean()
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / FPS)
    total = power[1:].sum()
    return float(power[freqs > HF_CUTOFF_HZ].sum() / total) if total > 0 else 0.0


def pause_frames(speech: np.ndarray) -> np.ndarray:
    """[T] bool: frames inside pauses longer than PAUSE_MIN_FRAMES, PAUSE_TRIM frames trimmed at each edge."""
    out = np.zeros_like(speech)
    T, i = len(speech), 0
    while i < T:
        if speech[i]:
            i += 1
            continue
        j = i
        while j < T and not speech[j]:
            j += 1
        if j - i >= PAUSE_MIN_FRAMES:
            out[i + (PAUSE_TRIM if i > 0 else 0):j - (PAUSE_TRIM if j < T else 0)] = True
        i = j
    return out


def synced_r(gen: np.ndarray, loud: np.ndarray, real: np.ndarray, av_offset: int) -> dict:
    """r lag 0 / best of +-1 for the generated mouth and the loudness predictor with the clip put in sync (its sound
    late by av_offset frames: lag av_offset is its lag 0)."""
    lags = (av_offset - 1, av_offset, av_offset + 1)
    return dict(zip(("r0_sync", "r1_sync", "loud0_sync", "loud1_sync"),
                    (*lagged_r(gen, real, lags, av_offset), *lagged_r(loud, real, lags, av_offset))))


def clip_metrics(gen: np.ndarray, real: np.ndarray, waveform: np.ndarray, rate: int, av_offset: int = 0) -> dict:
    """The per-clip figures; av_offset (frames the clip's sound is late by, bench/av_offsets.py --write-val) adds r
    with the clip put in sync: r at lag av_offset and the best of av_offset +- 1."""
    T = min(len(gen), len(real))
    gen, real = gen[:T], real[:T]
    loud = loudness_predictor(waveform, rate, T)
    speech = speech_frames(waveform, rate, T)
    pauses = pause_frames(speech)
    first = int(np.argmax(speech)) if speech.any() else T
    pre = slice(0, max(first - 2, 0))
    r0, r1 = lagged_r(gen, real)
    l0, l1 = lagged_r(loud, real)
    mean = lambda x, m: float(x[m].mean()) if np.asarray(x[m]).size else float("nan")  # noqa: E731
    return {"frames": T, "r0": r0, "r1": r1, "loud0": l0, "loud1": l1,
            "r_by_lag": {str(lag): r for lag, r in r_by_lag(gen, real, SHOWN_LAGS).items()},
            "av_offset": av_offset, **synced_r(gen, loud, real, av_offset),
            "hf_gen": high_frequency_share(gen), "hf_real": high_frequency_share(real),
            "pause_gen": mean(gen, pauses), "pause_real": mean(real, pauses), "pause_frames": int(pauses.sum()),
            "pre_gen": mean(gen, pre), "pre_real": mean(real, pre), "pre_frames": pre.stop,
            "std_gen": float(gen.std()), "std_real": float(real.std())}


# ------------------------------------------------------------------ the default workflow

WIDGETS: dict = {}  # --set name=value: widget overrides (e.g. guidance_scale=1), for exploring settings only


def default_graph(image_path: str, audio_path: str, dit: str | None) -> dict:
    """The API workflow with the given inputs, stopping at the rendered frames (no video file)."""
    with open(WORKFLOW) as f:
        graph = json.load(f)
    graph = {k: v for k, v in graph.items() if v["class_type"] not in ("CreateVideo", "SaveVideo")}
    for node in graph.values():
        if node["class_type"] == "LoadImage":
            node["inputs"]["image"] = image_path
        elif node["class_type"] == "LoadAudio":
            node["inputs"]["audio"] = audio_path
        elif node["class_type"] == "MoDiTLoadDiT" and dit:
            node["inputs"]["checkpoint"] = dit
        for name, value in WIDGETS.items():
            if name in node["inputs"] and not isinstance(node["inputs"][name], list):
                node["inputs"][name] = type(node["inputs"][name])(value)
    return graph


class _LoadDiTFile:
    """Stand-in for MoDiT Load DiT that loads a file path (to bench a checkpoint that is not installed); shaped
    like a V3 node (classmethod execute), as the graph runner calls nodes."""

    @classmethod
    def execute(cls, checkpoint, dtype):
        return (mod("dit.handle").DiTHandle.from_file(checkpoint, dtype),)


def run_default(image: np.ndarray, waveform: np.ndarray, rate: int, dit: str | None, render: bool):
    """(outputs by class name) of the default workflow on one portrait [H, W, 3] uint8 and one waveform."""
    from PIL import Image

    nodes = import_module(f"{_pack()}.nodes")
    classes = dict(nodes.NODES)
    if dit and os.path.isfile(dit):
        classes["MoDiTLoadDiT"] = _LoadDiTFile
    with tempfile.TemporaryDirectory() as tmp:
        image_path, audio_path = os.path.join(tmp, "portrait.png"), os.path.join(tmp, "speech.wav")
        Image.fromarray(image).save(image_path)
        write_wav(audio_path, waveform, rate)
        graph = default_graph(image_path, audio_path, dit)
        if not render:
            graph = {k: v for k, v in graph.items() if v["class_type"] != "MoDiTFlowRender"}
        outputs = import_module(f"{_pack()}.modit_app.graph_runner").run_graph(graph, classes, keep=graph)  # the bench reads inner nodes too
    return {graph[k]["class_type"]: v for k, v in outputs.items()}


def generated_opening(outputs: dict, render: bool) -> np.ndarray:
    if render:
        return track_opening(outputs["MoDiTFlowRender"][0].float())
    face, motion = outputs["MoDiTExtract3DMM"][0], outputs["MoDiTBlinkPose"][0]
    driven = mod("face.driving").driven_landmarks(face, motion.expression.float(), motion.pose.float())
    return opening(driven.numpy())


def contact_sheet(path: str, real: np.ndarray, generated: np.ndarray, count: int = 8) -> None:
    """Real frames over generated ones, `count` evenly spaced, as one PNG."""
    import cv2

    T = min(len(real), len(generated))
    picks = np.linspace(0, T - 1, count).round().astype(int)
    h = 192

    def row(frames):
        tiles = [cv2.resize(f, (int(f.shape[1] * h / f.shape[0]), h), interpolation=cv2.INTER_AREA) for f in frames]
        return np.concatenate(tiles, axis=1)

    top = row(real[picks])
    bottom = row((generated[picks].clamp(0, 1).numpy() * 255).astype(np.uint8))
    sheet = np.concatenate([top, bottom[:, :top.shape[1]]], axis=0)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def smile_test(dit: str | None, render: bool, frames_out: str | None) -> dict:
    """A closed-smile source on 3 s of silence: corners_up of the result vs the source's own."""
    from PIL import Image

    names = mod("face.components").COMPONENT_NAMES
    corners, jaw = names.index("corners_up"), names.index("jaw_open")
    with Image.open(SMILE_SOURCE) as img:
        image = np.asarray(img.convert("RGB"))
    rate = 16000
    silence = np.zeros(3 * rate, np.float32)
    outputs = run_default(image, silence, rate, dit, render)
    face, motion = outputs["MoDiTExtract3DMM"][0], outputs["MoDiTSampleExpression"][0]
    source = face.beta_0.numpy()
    sampled = motion.expression.numpy()
    row = {"source_corners": float(source[corners]), "sampled_corners": float(sampled[-25:, corners].mean()),
           "source_jaw": float(source[jaw]), "sampled_jaw": float(sampled[-25:, jaw].mean())}
    if render:
        frames = outputs["MoDiTFlowRender"][0].float()
        analyse = mod("face.analysis").analyse_portrait
        picks = [25, 50, frames.shape[0] - 1]
        measured = np.stack([analyse(frames[i]).beta_0.numpy() for i in picks])
        reference = analyse(torch.from_numpy(image).float() / 255.0).beta_0.numpy()
        row.update(measured_corners=float(measured[:, corners].mean()), remeasured_source_corners=float(reference[corners]),
                   measured_jaw=float(measured[:, jaw].mean()))
        if frames_out:
            contact_sheet(os.path.join(frames_out, "smile_silence.png"), np.stack([image] * len(frames)), frames, 4)
    return row


# ------------------------------------------------------------------ report

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dit", default=None, help="checkpoint file or dropdown name (default: the workflow's)")
    parser.add_argument("--clips", nargs="*", default=None, help="clip file names in ../shared/data/talking")
    parser.add_argument("--max-seconds", type=float, default=8.0)
    parser.add_argument("--fast", action="store_true", help="driven mesh instead of render + re-measure")
    parser.add_argument("--cache", default="/work/data/cache/real_motion")
    parser.add_argument("--frames-out", default=None, help="folder for real|generated contact sheets (not in git)")
    parser.add_argument("--json", default=None, help="also write the per-clip rows here")
    parser.add_argument("--no-smile", action="store_true")
    parser.add_argument("--av-offsets", default=None, metavar="FILE",
                        help="the clips' own audio-visual offsets (bench/av_offsets.py --write-val): r is also given "
                             "with each clip put in sync")
    parser.add_argument("--markdown", nargs="+", default=None, metavar="JSON",
                        help="print a markdown table of earlier --json runs and exit")
    parser.add_argument("--set", action="append", default=[], metavar="WIDGET=VALUE",
                        help="override a workflow widget (e.g. guidance_scale=1); the default workflow otherwise")
    args = parser.parse_args()
    WIDGETS.update(entry.split("=", 1) for entry in args.set)
    if args.markdown:
        print(markdown(args.markdown))
        return 0
    torch.set_num_threads(1)
    if not os.path.isdir(TALKING):
        print(f"{TALKING} missing: the bench needs the real clips of ../shared/data/talking")
        return 1
    render = not args.fast
    clips = args.clips or validation_clips()
    av_offsets = mod("data.featurise").read_offsets(args.av_offsets) if args.av_offsets else {}
    rows = []
    for name in clips:
        real = real_measurement(name, args.max_seconds, args.cache)
        T = real["T"]
        outputs = run_default(real["frames"][0], real["waveform"], real["rate"], args.dit, render)
        gen = generated_opening(outputs, render)
        row = {"clip": name.split("__")[-1][:40], **clip_metrics(gen, real["opening"], real["waveform"], real["rate"],
                                                                  av_offsets.get(os.path.splitext(name)[0], 0))}
        rows.append({**row, "curves": {"generated": gen.tolist(), "real": real["opening"][:T].tolist()}})
        print(format_row(row), flush=True)
        if args.frames_out and render:
            contact_sheet(os.path.join(args.frames_out, os.path.splitext(name)[0] + ".png"), real["frames"][:T],
                          outputs["MoDiTFlowRender"][0][:T].float())
    print(summary(rows))
    smile = None if args.no_smile else smile_test(args.dit, render, args.frames_out)
    if smile:
        print("smile on 3 s silence: " + "  ".join(f"{k} {v:.3f}" for k, v in smile.items()))
        key = "measured_corners" if render else "sampled_corners"
        ref = smile.get("remeasured_source_corners", smile["source_corners"])
        print(f"  corners_up kept: {smile[key]:.3f} vs source {ref:.3f} ({100 * (smile[key] / ref - 1):+.0f} %, "
              f"target within 20 %)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "smile": smile, "dit": args.dit, "fast": args.fast, "widgets": WIDGETS,
                       "summary": summary(rows).splitlines()[-5:]}, f, indent=1)
    return 0


def markdown(paths: list[str]) -> str:
    """One markdown table (per clip, then the means) from several --json outputs, columns per run."""
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append(json.load(f))
    lines = ["| clip | " + " | ".join(f"r lag 0 / best +-1 ({os.path.basename(p)})" for p in paths)
             + " | loudness r | >6 Hz gen/real | std gen/real |", "|---|" + "---|" * (len(paths) + 3)]
    for i, row in enumerate(runs[0]["rows"]):
        cells = [f"{run['rows'][i]['r0']:.2f} / {run['rows'][i]['r1']:.2f}" for run in runs]
        last = runs[-1]["rows"][i]
        lines.append(f"| {runs[-1]['rows'][i]['clip']} | " + " | ".join(cells) + f" | {row['loud0']:.2f} / {row['loud1']:.2f} | "
                     f"{last['hf_gen']:.2f} / {last['hf_real']:.2f} | {last['std_gen']:.3f} / {last['std_real']:.3f} |")
    return "\n".join(lines)


HEADER = (f"{'clip':40s} {'T':>4s} {'r0':>6s} {'r+-1':>6s} {'loud0':>6s} {'loud1':>6s} {'hf g/r':>11s} "
          f"{'pause g/r':>11s} {'pre g/r':>11s} {'std g/r':>11s}")


def format_row(row: dict) -> str:
    return (f"{row['clip']:40s} {row['frames']:4d} {row['r0']:6.2f} {row['r1']:6.2f} {row['loud0']:6.2f} "
            f"{row['loud1']:6.2f} {row['hf_gen']:5.2f}/{row['hf_real']:<5.2f} {row['pause_gen']:5.3f}/{row['pause_real']:<5.3f} "
            f"{row['pre_gen']:5.3f}/{row['pre_real']:<5.3f} {row['std_gen']:5.3f}/{row['std_real']:<5.3f}")


def summary(rows: list[dict]) -> str:
    mean = lambda k: float(np.nanmean([r[k] for r in rows]))  # noqa: E731
    weighted = lambda k, w: float(np.nansum([r[k] * r[w] for r in rows]) / max(sum(r[w] for r in rows if r[w]), 1))  # noqa: E731
    pre_rows = [r for r in rows if r["pre_frames"]]
    lines = [HEADER, *(format_row(r) for r in rows), "",
             f"mean over {len(rows)} clips: r lag0 {mean('r0'):.3f}, r best of +-1 {mean('r1'):.3f} (target >= 0.6); "
             f"loudness predictor {mean('loud0'):.3f} / {mean('loud1'):.3f}; margin {mean('r1') - mean('loud1'):+.3f} "
             f"(target >= +0.15)",
             *([f"with the clips put in sync ({sum(1 for r in rows if r.get('av_offset'))} offsets): r lag0 "
                f"{mean('r0_sync'):.3f}, r best of +-1 {mean('r1_sync'):.3f}; loudness predictor "
                f"{mean('loud0_sync'):.3f} / {mean('loud1_sync'):.3f}"] if any(r.get("av_offset") for r in rows)
               else []),
             "mean r by lag (+: generated late): " + "  ".join(
                 f"{lag:+d} {np.nanmean([r['r_by_lag'][str(lag)] for r in rows if 'r_by_lag' in r]):.3f}"
                 for lag in SHOWN_LAGS),
             f">6 Hz share: generated {mean('hf_gen'):.3f}, real {mean('hf_real'):.3f}, ratio "
             f"{mean('hf_gen') / max(mean('hf_real'), 1e-9):.2f} (target 0.7-1.3)",
             f"pauses > 300 ms ({sum(r['pause_frames'] for r in rows)} frames): generated {weighted('pause_gen', 'pause_frames'):.3f}, "
             f"real {weighted('pause_real', 'pause_frames'):.3f} (target generated <= real + 0.02)",
             f"before the first word ({len(pre_rows)} clips): generated "
             f"{np.mean([r['pre_gen'] for r in pre_rows]) if pre_rows else float('nan'):.3f}, real "
             f"{np.mean([r['pre_real'] for r in pre_rows]) if pre_rows else float('nan'):.3f}",
             f"amplitude std: generated {mean('std_gen'):.3f}, real {mean('std_real'):.3f}, ratio "
             f"{mean('std_gen') / max(mean('std_real'), 1e-9):.2f}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
