"""How lit a closed eyelid is: our renders' blinks against real people's (issue 15).

    python bench/closed_lids.py /work/out/gallery/<label> [/work/out/gallery/<label>-real ...]
        [--videos ../shared/data/talking]

Reads `bench/gallery.py` output folders (one sub-folder per face with our render.mp4 and intended.npz). In our
renders the blinks are the frames the motion closes (intended eye_closure >= 0.95, the most closed of each run); in
the real talking clips of the same name (`--real` folders) and in every clip of --videos with --all-videos, the frames
where dlib's eye aspect ratio falls under 0.55x its median (the lowest of each run). For each blink and eye the figure
is the luma inside the eye's open outline (dlib 36-41 / 42-47 on the last open frame before it, moved to the blink
frame by a similarity fit on the nose and the eye corners) over the luma of the skin under the eyes and on the
nose's bridge in the same frame. A closed lid painted in the shadow of a brow or a deep socket reads far under the
real ones.
"""
import argparse
import glob
import os

import cv2
import numpy as np

from gallery_meters import DlibFace, eye_aspect, inter_ocular, luminance

EYES = (slice(36, 42), slice(42, 48))
STILL_POINTS = [27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45]  # nose and eye corners: they stay put in a blink
CLOSED, OPEN = 0.55, 0.9  # eye aspect ratio over its median: a blink under the first, open over the second


def track(face: DlibFace, path: str) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Every frame's luma and dlib's 68 points (None where no face is found)."""
    capture, lumas, points, previous = cv2.VideoCapture(path), [], [], None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        shape = face.shape(rgb, previous)
        previous = shape or previous
        lumas.append(luminance(rgb))
        points.append(None if shape is None else face.points(shape))
    return lumas, points


def blinks(closed: np.ndarray, openness: np.ndarray) -> list[tuple[int, int]]:
    """(blink frame, last open frame before it): the most closed frame of each run of closed ones."""
    pairs, start = [], None
    for i in range(len(closed) + 1):
        if i < len(closed) and closed[i]:
            start = i if start is None else start
            continue
        if start is not None:
            frame = start + int(np.nanargmin(openness[start:i]))
            before = next((j for j in range(start - 1, -1, -1) if openness[j] > OPEN), None)
            if before is not None:
                pairs.append((frame, before))
            start = None
    return pairs


def lid_over_skin(y: np.ndarray, points: np.ndarray, open_points: np.ndarray) -> list[float]:
    """Per eye, the mean luma inside its open outline (moved onto this frame) over the skin's."""
    moved, _ = cv2.estimateAffinePartial2D(open_points[STILL_POINTS].astype(np.float32),
                                           points[STILL_POINTS].astype(np.float32))
    r = max(1, int(0.05 * inter_ocular(points)))
    refs = [points[28], points[29], 0.5 * (points[41] + points[2]), 0.5 * (points[46] + points[14])]
    skin = np.median([np.median(y[int(q[1]) - r:int(q[1]) + r + 1, int(q[0]) - r:int(q[0]) + r + 1]) for q in refs])
    values = []
    for eye in EYES:
        outline = cv2.transform(open_points[eye][None].astype(np.float32), moved)[0]
        mask = np.zeros(y.shape, np.uint8)
        cv2.fillPoly(mask, [outline.round().astype(np.int32)], 1)
        if mask.sum() > 3:
            values.append(float(y[mask > 0].mean() / max(skin, 1e-6)))
    return values


def measure(face: DlibFace, path: str, closure: np.ndarray | None = None) -> list[float]:
    """Closed-lid figures of every blink in a video; `closure`: the frames' intended eye closure (our renders)."""
    lumas, points = track(face, path)
    ratio = np.array([np.nan if p is None else eye_aspect(p) for p in points])
    if closure is None:
        median = np.nanmedian(ratio)
        openness = ratio / median
        closed = openness < CLOSED
    else:
        closure = closure[:len(points)]
        openness = 1.0 - closure
        closed = closure >= 0.95
    values = []
    for frame, before in blinks(closed, openness):
        if points[frame] is not None and points[before] is not None:
            values += lid_over_skin(lumas[frame], points[frame], points[before])
    return values


def summary(values: list[float]) -> str:
    if not values:
        return "    -                "
    return f"{np.median(values):5.2f} (p10 {np.percentile(values, 10):4.2f}, {len(values):3d})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("renders", nargs="+", help="bench/gallery.py output folders")
    parser.add_argument("--videos", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                         "talking"))
    parser.add_argument("--all-videos", action="store_true", help="also measure every real clip in --videos")
    args = parser.parse_args()
    face = DlibFace()
    ours, real = [], []
    print(f"{'face':<40} {'ours: median (p10, eyes)':<26} real")
    for renders in args.renders:
        for folder in sorted(glob.glob(os.path.join(renders, "*", ""))):
            name = os.path.basename(folder.rstrip(os.sep))
            render, intended = os.path.join(folder, "render.mp4"), os.path.join(folder, "intended.npz")
            if not (os.path.exists(render) and os.path.exists(intended)):
                continue
            mine = measure(face, render, np.load(intended)["eye_closure"])
            ours += mine
            videos = glob.glob(os.path.join(args.videos, f"*{name}.mp4")) if renders.rstrip(os.sep).endswith(
                "-real") else []
            theirs = measure(face, videos[0]) if videos and not args.all_videos else []
            real += theirs
            print(f"{name[:40]:<40} {summary(mine):<26} {summary(theirs) if videos else ''}", flush=True)
    if args.all_videos:
        for video in sorted(glob.glob(os.path.join(args.videos, "*.mp4"))):
            real += measure(face, video)
    print(f"{'all':<40} {summary(ours):<26} {summary(real)}")
    if real:
        low = 0.75 * np.percentile(real, 10)
        print(f"eyes under 0.75x the real 10th percentile ({low:.2f}): {sum(v < low for v in ours)} / {len(ours)}")


if __name__ == "__main__":
    main()
