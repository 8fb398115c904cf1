"""How bright the open mouth is, real people against our renders of them (issue 15): inside dlib's inner lips.

    python bench/mouth_interior.py /work/out/gallery/<label>-real [--videos ../shared/data/talking]

Reads a `bench/gallery.py --real` output folder (one sub-folder per clip with our render.mp4) and the real clips
beside it. On every frame of both (the first 100, as the gallery renders them), dlib's 68 points give the inner-lip
polygon (60-67) and the opening (gallery_meters.mouth_opening, in inter-ocular distances); the figure is the median
luma inside the polygon over the median luma of the face's skin (inside the jaw and brow hull, away from the eyes
and the mouth). Frames are binned by opening; per clip and over all clips, the median of each bin is printed for the
real video and for ours. A mouth drawn mostly as dark throat reads low; real open mouths are mostly lit tongue and
teeth. Over all clips it also prints the 10th and 90th percentiles of the same luma (each frame's, then the median):
the dark part every real opening has (0.35-0.38 of the skin's at every size, by person) and the teeth's edge. A pale
fill between the lips reads like a real median and fails the first.

In the lower half of the opening it prints the colour of the lit, saturated pixels (a tongue, or the lower lip's wet
edge; not teeth, not the throat) per unit luma, and their luma over the skin's: a tongue drawn orange or in shadow shows
there.

Down the middle of the opening it prints the luma profile (over the skin's) at shares of the gap from the upper
inner lip to the lower (dlib 62 -> 66, 61 -> 67, 63 -> 65, averaged): teeth, throat and tongue in their order. Across
each lip's inner edge it also prints the luma profile (over the skin's), from the opening into the lip along
the line from the inner-lip point to the outer one (dlib 62 -> 51 for the upper lip, 66 -> 57 for the lower, and
their neighbours), in lip thicknesses from the inner edge: negative inside the opening, positive in the lip. A dark
line drawn along the edge shows as a dip at 0 below both the lip and the interior.

The profile is printed twice: frame-weighted, and clip by clip (each clip's median, then the median over the clips
that open that far in both its real video and our render), which sets each person against our render of that person
and weighs people alike.

    python bench/mouth_interior.py /work/out/gallery/<label> --every-clip [--videos ../shared/data/talking]

weighs every person alike: the reference is every clip in the talking folder (not only the 14
the gallery renders), and ours every render under the folder (the faces gallery, or a --real one). Per clip the
median of each bin, then the median over the clips that open that far on at least MIN_FRAMES frames. Frame-weighted
over the 14, speakers who show their teeth on every syllable (andrew_clip_1, May_5s, fadg0_sa1) set the figures:
0.95 / 0.92 of the skin's luma halfway down a medium opening, where the median person reads about 0.6.
"""
import argparse
import glob
import os

import cv2
import numpy as np

from gallery_meters import DlibFace, inter_ocular, luminance, mouth_opening

EDGE_STEPS = np.round(np.linspace(-0.5, 0.75, 6), 2)  # lip thicknesses from the inner lip edge
DOWN = np.linspace(0.0, 1.0, 9)  # shares of the opening from the upper inner lip to the lower
ACROSS = ((62, 66), (61, 67), (63, 65))
EDGES = {"upper": ((62, 51), (61, 50), (63, 52)), "lower": ((66, 57), (65, 56), (67, 58))}  # inner, outer points
BINS = ((0.08, 0.16), (0.16, 0.26), (0.26, 1.0))  # narrow, medium, wide: inner-lip gap in inter-ocular distances
FRAMES = 100
MIN_FRAMES = 3  # a clip counts in a bin (--every-clip) where it opens that far on this many frames
VIDEO_TYPES = ("*.mp4", "*.mov", "*.mpg")


def read_frames(path: str, count: int = FRAMES) -> list[np.ndarray]:
    capture = cv2.VideoCapture(path)
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return frames


def _fill(shape, points: np.ndarray, convex: bool = True) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    points = points.round().astype(np.int32)
    if convex:
        cv2.fillConvexPoly(mask, cv2.convexHull(points), 1)
    else:
        cv2.fillPoly(mask, [points], 1)
    return mask > 0


def skin_luma(y: np.ndarray, points: np.ndarray) -> float:
    """Median luma of the face's skin: inside the jaw and brow hull, away from the eyes and the mouth."""
    away = np.zeros(y.shape, np.uint8)
    for part in (points[36:42], points[42:48], points[48:60]):
        away |= _fill(y.shape, part).astype(np.uint8)
    size = int(0.3 * inter_ocular(points)) | 1
    away = cv2.dilate(away, np.ones((size, size), np.uint8)) > 0
    skin = _fill(y.shape, points[:27]) & ~away
    return max(float(np.median(y[skin])), 1e-6)


def interior_over_skin(y: np.ndarray, points: np.ndarray, skin: float) -> np.ndarray | None:
    """Luma inside the inner lips over the skin's, its 10th, 50th and 90th percentiles (the dark gap, the median, the
    teeth's edge); None when the opening covers under 8 px."""
    inner = _fill(y.shape, points[60:68], convex=False)
    if inner.sum() < 8:
        return None
    return np.percentile(y[inner], (10, 50, 90)) / skin


def profile(y: np.ndarray, points: np.ndarray, skin: float, pairs, steps: np.ndarray) -> np.ndarray:
    """Luma over the skin's at `steps` along each (a, b) pair of points (0 at a, 1 at b), averaged: [len(steps)]."""
    rows = []
    for first, second in pairs:
        a, b = points[first].astype(np.float32), points[second].astype(np.float32)
        at = a + steps[:, None].astype(np.float32) * (b - a)
        rows.append(cv2.remap(y, at[:, None, 0].copy(), at[:, None, 1].copy(), cv2.INTER_LINEAR)[:, 0])
    return np.mean(rows, 0) / skin


TONGUE_LIT = (0.45, 1.2)  # a lit tongue's luma, times the skin's
TONGUE_SATURATED = 0.25  # and its saturation ((max - min) / max): teeth and a grey throat are less saturated
TONGUE_COLUMNS = slice(2 + len(DOWN) + 2 * len(EDGE_STEPS), 6 + len(DOWN) + 2 * len(EDGE_STEPS))  # lit_tongue's
COLUMNS = TONGUE_COLUMNS.stop + 2


def lit_tongue(frame: np.ndarray, y: np.ndarray, points: np.ndarray, skin: float) -> np.ndarray:
    """The lower half of the inner lips' lit, saturated pixels (a tongue, or the lower lip's wet edge): their median
    colour per unit luma and their median luma over the skin's [4]; NaN where under 4 such pixels show. frame: uint8
    RGB, y: its luma (gallery_meters.luminance)."""
    rgb = frame.astype(np.float32) / 255.0
    inner = _fill(y.shape, points[60:68], convex=False)
    rows = np.arange(y.shape[0])[:, None]
    lower = inner & (rows >= 0.5 * (points[62, 1] + points[66, 1]))
    pixels, luma = rgb[lower], y[lower]
    saturation = (pixels.max(1) - pixels.min(1)) / np.maximum(pixels.max(1), 1e-3)
    lit = (luma > TONGUE_LIT[0] * skin) & (luma < TONGUE_LIT[1] * skin) & (saturation > TONGUE_SATURATED)
    if lit.sum() < 4:
        return np.full(4, np.nan)
    return np.append(np.median(pixels[lit] / luma[lit, None], 0), np.median(luma[lit]) / skin)


def measure(face: DlibFace, path: str) -> np.ndarray:
    """[N, COLUMNS] (opening, interior over skin (median), the profile down the opening, the upper and lower lip edge
    profiles, the lit tongue's colour and luma (lit_tongue), the interior's 10th and 90th percentiles) over the frames
    of a video where dlib finds the face with its mouth open."""
    rows, previous = [], None
    for frame in read_frames(path):
        shape = face.shape(frame, previous)
        previous = shape
        if shape is None:
            continue
        points = face.points(shape)
        y = luminance(frame)
        skin = skin_luma(y, points)
        spread = interior_over_skin(y, points, skin)
        if spread is not None:
            down = profile(y, points, skin, ACROSS, DOWN)
            edges = [profile(y, points, skin, pairs, EDGE_STEPS) for pairs in EDGES.values()]
            tongue = lit_tongue(frame, y, points, skin)
            rows.append(np.concatenate([[mouth_opening(points), spread[1]], down, *edges, tongue, spread[[0, 2]]]))
    return np.array(rows).reshape(-1, COLUMNS)


def in_bin(rows: np.ndarray, low: float, high: float) -> np.ndarray:
    """The rows of `measure` whose opening lies in [low, high)."""
    return rows[(rows[:, 0] >= low) & (rows[:, 0] < high)]


def cell(values: np.ndarray) -> str:
    return f"{np.median(values):5.2f} ({len(values):3d})" if len(values) else f"{'-':>5} (  0)"


def clip_medians(rows: np.ndarray) -> dict:
    """Per bin, the median over a clip's frames of (interior over skin, the profile down the opening, the interior's
    10th and 90th percentiles) [3 + len(DOWN)], for the bins it opens into on at least MIN_FRAMES frames."""
    out = {}
    for bin_ in BINS:
        frames = in_bin(rows, *bin_)
        if len(frames) >= MIN_FRAMES:
            out[bin_] = np.median(np.concatenate([frames[:, 1:2 + len(DOWN)], frames[:, -2:]], 1), 0)
    return out


def clip_tongue(rows: np.ndarray) -> np.ndarray | None:
    """The median over a clip's rows (of `measure`) of the lit tongue's colour and luma [4], or None where it shows on
    fewer than MIN_FRAMES of them."""
    tongue = rows[:, TONGUE_COLUMNS]
    return np.nanmedian(tongue, 0) if np.isfinite(tongue[:, 0]).sum() >= MIN_FRAMES else None


def every_clip(face: DlibFace, renders: str, videos: str) -> None:
    """Print the clip-weighted figures: every real clip in `videos` against every render.mp4 under `renders`."""
    real = sorted(path for pattern in VIDEO_TYPES for path in glob.glob(os.path.join(videos, pattern)))
    ours = sorted(glob.glob(os.path.join(renders, "*", "render.mp4")))
    print("down the middle of the opening (clip-weighted median, luma / skin's) at shares "
          + " ".join(f"{t:.2f}" for t in DOWN) + " of the gap from the upper inner lip")
    tongues = {}
    for who, paths in (("real", real), ("ours", ours)):
        per_bin = {bin_: [] for bin_ in BINS}
        tongues[who] = []
        for path in paths:
            rows = measure(face, path)
            for bin_, medians in clip_medians(rows).items():
                per_bin[bin_].append(medians)
            tongue = clip_tongue(rows[rows[:, 0] >= BINS[1][0]])
            if tongue is not None:
                tongues[who].append(tongue)
        for bin_, medians in per_bin.items():
            if not medians:
                continue
            m = np.median(np.array(medians), 0)
            print(f"{bin_[0]:.2f}-{bin_[1]:.2f} {who:<4} ({len(medians):2d} of {len(paths)} clips): interior "
                  f"{m[0]:.2f} (p10 {m[-2]:.2f}, p90 {m[-1]:.2f}) | " + " ".join(f"{v:5.2f}" for v in m[1:-2]),
                  flush=True)
    print(f"the lit tongue from {BINS[1][0]:.2f} open (lit_tongue; the median clip): colour per unit luma r / g / b, "
          "luma over the skin's")
    for who, values in tongues.items():
        if values:
            m = np.median(values, 0)
            print(f"{who:<4} ({len(values):2d} clips): {m[0]:.2f} / {m[1]:.2f} / {m[2]:.2f}, luma {m[3]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("renders", help="a bench/gallery.py output folder (a --real one unless --every-clip)")
    parser.add_argument("--videos", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                         "talking"))
    parser.add_argument("--every-clip", action="store_true",
                        help="every real clip against every render, each clip weighed alike")
    args = parser.parse_args()
    face = DlibFace()
    if args.every_clip:
        every_clip(face, args.renders, args.videos)
        return
    binned = {bin_: ([], []) for bin_ in BINS}  # per bin: the real clips' rows, ours
    paired = {bin_: [] for bin_ in BINS}  # per bin: (the real clip's medians, ours) where both open that far
    print(f"{'clip':<22}" + "".join(f"   {low:.2f}-{high:.2f} real / ours     " for low, high in BINS))
    for folder in sorted(glob.glob(os.path.join(args.renders, "*", ""))):
        name = os.path.basename(folder.rstrip(os.sep))
        videos = [path for pattern in VIDEO_TYPES
                  for path in glob.glob(os.path.join(args.videos, "*" + name + pattern[1:]))]
        render = os.path.join(folder, "render.mp4")
        if not videos or not os.path.exists(render):
            continue
        real, ours = measure(face, videos[0]), measure(face, render)
        real_medians, our_medians = clip_medians(real), clip_medians(ours)
        for bin_ in set(real_medians) & set(our_medians):
            paired[bin_].append((real_medians[bin_], our_medians[bin_]))
        line = f"{name[:22]:<22}"
        for bin_ in BINS:
            r, o = in_bin(real, *bin_), in_bin(ours, *bin_)
            binned[bin_][0].append(r)
            binned[bin_][1].append(o)
            line += f"   {cell(r[:, 1])} / {cell(o[:, 1])}"
        print(line, flush=True)
    frames = {bin_: [np.concatenate(parts) for parts in binned[bin_]] for bin_ in BINS}
    print(f"{'all clips':<22}" + "".join(f"   {cell(r[:, 1])} / {cell(o[:, 1])}" for r, o in frames.values()))
    print(f"{'  its p10':<22}" + "".join(f"   {cell(r[:, -2])} / {cell(o[:, -2])}" for r, o in frames.values()))
    print(f"{'  its p90':<22}" + "".join(f"   {cell(r[:, -1])} / {cell(o[:, -1])}" for r, o in frames.values()))
    print("\ndown the middle of the opening (median over frames, luma / skin's) at shares "
          + " ".join(f"{t:.2f}" for t in DOWN) + " of the gap from the upper inner lip")
    for bin_ in BINS:
        for who, values in zip(("real", "ours"), frames[bin_]):
            print(f"{bin_[0]:.2f}-{bin_[1]:.2f} {who:<4} ({len(values):3d}): "
                  + " ".join(f"{v:5.2f}" for v in np.median(values[:, 2:2 + len(DOWN)], 0)))
    print("\nthe same clip by clip: each clip's median, then the median over the clips whose real video and render "
          f"both open that far on {MIN_FRAMES} frames or more (interior, its p10 / p90 | the profile down the opening)")
    for bin_ in BINS:
        if paired[bin_]:
            for who, medians in zip(("real", "ours"), map(np.array, zip(*paired[bin_]))):
                m = np.median(medians, 0)
                print(f"{bin_[0]:.2f}-{bin_[1]:.2f} {who:<4} ({len(medians):2d} clips): {m[0]:.2f}, {m[-2]:.2f} / "
                      f"{m[-1]:.2f} | " + " ".join(f"{v:5.2f}" for v in m[1:-2]))
    print("\nthe lit tongue in the lower half of the opening (median over frames; then over clips, each by its own"
          " median): colour per unit luma (r / g / b) and luma over the skin's")
    for bin_ in BINS[1:]:
        for who, parts in zip(("real", "ours"), binned[bin_]):
            frames_ = np.concatenate(parts)[:, TONGUE_COLUMNS]
            clips = [tongue for tongue in map(clip_tongue, parts) if tongue is not None]
            by_frame, by_clip = np.nanmedian(frames_, 0), np.median(clips, 0) if clips else np.full(4, np.nan)
            print(f"{bin_[0]:.2f}-{bin_[1]:.2f} {who:<4}: frames {' / '.join(f'{v:.2f}' for v in by_frame[:3])}, "
                  f"luma {by_frame[3]:.2f} | {len(clips):2d} clips {' / '.join(f'{v:.2f}' for v in by_clip[:3])}, "
                  f"luma {by_clip[3]:.2f}")
    n = len(EDGE_STEPS)
    print("\nacross the inner lip edge (median over frames, luma / skin's) at lip thicknesses "
          + " ".join(f"{t:+.2f}" for t in EDGE_STEPS) + " (< 0: inside the opening)")
    for bin_ in BINS[1:]:
        for who, values in zip(("real", "ours"), frames[bin_]):
            for k, lip in enumerate(EDGES):
                start = 2 + len(DOWN) + k * n
                print(f"{bin_[0]:.2f}-{bin_[1]:.2f} {lip:<5} {who:<4} ({len(values):3d}): "
                      + " ".join(f"{v:5.2f}" for v in np.median(values[:, start:start + n], 0)))


if __name__ == "__main__":
    main()
