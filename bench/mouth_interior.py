"""How bright the open mouth is, real people against our renders of them (issue 15): inside dlib's inner lips.

    python bench/mouth_interior.py /work/out/gallery/<label>-real [--videos ../shared/data/talking]

Reads a `bench/gallery.py --real` output folder (one sub-folder per clip with our render.mp4) and the real clips
beside it. On every frame of both (the first 100, as the gallery renders them), dlib's 68 points give the inner-lip
polygon (60-67) and the opening (gallery_meters.mouth_opening, in inter-ocular distances); the figure is the median
luma inside the polygon over the median luma of the face's skin (inside the jaw and brow hull, away from the eyes
and the mouth). Frames are binned by opening; per clip and over all clips, the median of each bin is printed for the
real video and for ours. A mouth drawn mostly as dark throat reads low; real open mouths are mostly lit tongue and
teeth.
"""
import argparse
import glob
import os

import cv2
import numpy as np

from gallery_meters import DlibFace, inter_ocular, luminance, mouth_opening

BINS = ((0.08, 0.16), (0.16, 0.26), (0.26, 1.0))  # narrow, medium, wide: inner-lip gap in inter-ocular distances
FRAMES = 100


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


def interior_over_skin(frame: np.ndarray, points: np.ndarray) -> float | None:
    """Median luma inside the inner lips over the skin's; None when the opening covers under 8 px."""
    y = luminance(frame)
    inner = _fill(y.shape, points[60:68], convex=False)
    if inner.sum() < 8:
        return None
    away = np.zeros(y.shape, np.uint8)
    for part in (points[36:42], points[42:48], points[48:60]):
        away |= _fill(y.shape, part).astype(np.uint8)
    size = int(0.3 * inter_ocular(points)) | 1
    away = cv2.dilate(away, np.ones((size, size), np.uint8)) > 0
    skin = _fill(y.shape, points[:27]) & ~away
    return float(np.median(y[inner]) / max(np.median(y[skin]), 1e-6))


def measure(face: DlibFace, path: str) -> np.ndarray:
    """[N, 2] (opening, interior over skin) over the frames of a video where dlib finds the face."""
    rows, previous = [], None
    for frame in read_frames(path):
        shape = face.shape(frame, previous)
        previous = shape
        if shape is None:
            continue
        points = face.points(shape)
        value = interior_over_skin(frame, points)
        if value is not None:
            rows.append((mouth_opening(points), value))
    return np.array(rows).reshape(-1, 2)


def in_bin(rows: np.ndarray, low: float, high: float) -> np.ndarray:
    return rows[(rows[:, 0] >= low) & (rows[:, 0] < high), 1]


def cell(values: np.ndarray) -> str:
    return f"{np.median(values):5.2f} ({len(values):3d})" if len(values) else f"{'-':>5} (  0)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("renders", help="a bench/gallery.py --real output folder")
    parser.add_argument("--videos", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                         "talking"))
    args = parser.parse_args()
    face = DlibFace()
    pooled = {bin_: ([], []) for bin_ in BINS}
    print(f"{'clip':<22}" + "".join(f"   {low:.2f}-{high:.2f} real / ours     " for low, high in BINS))
    for folder in sorted(glob.glob(os.path.join(args.renders, "*", ""))):
        name = os.path.basename(folder.rstrip(os.sep))
        videos = glob.glob(os.path.join(args.videos, f"*{name}.mp4"))
        render = os.path.join(folder, "render.mp4")
        if not videos or not os.path.exists(render):
            continue
        real, ours = measure(face, videos[0]), measure(face, render)
        line = f"{name[:22]:<22}"
        for bin_ in BINS:
            r, o = in_bin(real, *bin_), in_bin(ours, *bin_)
            pooled[bin_][0].extend(r)
            pooled[bin_][1].extend(o)
            line += f"   {cell(r)} / {cell(o)}"
        print(line, flush=True)
    print(f"{'all clips':<22}" + "".join(f"   {cell(np.array(r))} / {cell(np.array(o))}" for r, o in pooled.values()))


if __name__ == "__main__":
    main()
