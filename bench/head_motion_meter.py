"""Bench: how much does the head move, read by a meter the pack does not use?

dlib's 68 landmarks, six of them (nose tip, chin, outer eye corners, mouth corners) fitted to a generic 3D face with
cv2.solvePnP, give each frame's head rotation. Angles are taken relative to the clip's most typical frame (the one
whose rotation is closest to the others'), so a fit that flips to the mirror solution reads as a misfit (left out)
instead of a 180-degree turn. The chin moves with the jaw, so pitch also reads some of the mouth's opening, on real
videos and ours alike.

    python bench/head_motion_meter.py VIDEO...             # yaw / pitch / roll sd and 1st / 99th percentiles of each
    python bench/head_motion_meter.py --gallery DIR        # a `bench/gallery.py --real` run beside the real videos

--gallery compares frames 25-100 (after the renders' 1 s fade-in; --frames) of each clip's render with the same
frames of the real video, and prints the median clip's figures and their ratio.
"""
import argparse
import glob
import os
import sys

import numpy as np

from gallery_meters import DlibFace, dlib_missing_reason
from gallery_video import decode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
# A generic head (units arbitrary, y up, z toward the camera) at dlib's points 30, 8, 36, 45, 48, 54.
MODEL_POINTS = np.array([(0.0, 0.0, 0.0), (0.0, -330.0, -65.0), (-225.0, 170.0, -135.0), (225.0, 170.0, -135.0),
                         (-150.0, -150.0, -125.0), (150.0, -150.0, -125.0)])
LANDMARKS = [30, 8, 36, 45, 48, 54]
MISFIT_DEGREES = 60.0  # a frame this far from the clip's typical rotation is a mirror or failed fit
MAX_SIDE = 512  # frames are read at most this large (a solvePnP angle does not depend on the frame's size)


def rotations(face: DlibFace, frames: np.ndarray) -> np.ndarray:
    """[T, 3, 3] head rotation per frame (NaN where dlib finds no face); focal length = frame width."""
    import cv2

    H, W = frames.shape[1:3]
    camera = np.array([[W, 0, W / 2], [0, W, H / 2], [0, 0, 1]], float)
    out = np.full((len(frames), 3, 3), np.nan)
    previous = None
    for t, frame in enumerate(frames):
        shape = face.shape(frame, previous)
        if shape is None:
            continue
        previous = shape
        ok, rvec, _ = cv2.solvePnP(MODEL_POINTS, face.points(shape)[LANDMARKS], camera, None,
                                   flags=cv2.SOLVEPNP_ITERATIVE)
        if ok:
            out[t] = cv2.Rodrigues(rvec)[0]
    return out


def relative_angles(rotation: np.ndarray) -> tuple[np.ndarray, int]:
    """([T, 3] yaw / pitch / roll in degrees relative to the clip's most typical frame, NaN for no face or a misfit;
    the number of misfits)."""
    valid = ~np.isnan(rotation).any(axis=(1, 2))
    angles = np.full((len(rotation), 3), np.nan)
    if not valid.any():
        return angles, 0
    R = rotation[valid]
    cosine = (np.einsum("iab,jab->ij", R, R) - 1) / 2  # cos of the angle between each two frames' rotations
    between = np.degrees(np.arccos(np.clip(cosine, -1, 1)))
    reference = R[int(np.argmin(np.median(between, axis=1)))]
    relative = R @ reference.T
    yaw = np.degrees(np.arctan2(-relative[:, 2, 0], np.hypot(relative[:, 0, 0], relative[:, 1, 0])))
    pitch = np.degrees(np.arctan2(relative[:, 2, 1], relative[:, 2, 2]))
    roll = np.degrees(np.arctan2(relative[:, 1, 0], relative[:, 0, 0]))
    turn = np.degrees(np.arccos(np.clip((np.trace(relative, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    found = np.stack([yaw, pitch, roll], axis=1)
    misfit = turn > MISFIT_DEGREES
    found[misfit] = np.nan
    angles[valid] = found
    return angles, int(misfit.sum())


def read_frames(path: str, first: int = 0, last: int | None = None) -> np.ndarray:
    import cv2

    frames, _ = decode(path, last)
    frames = frames[first:]
    scale = MAX_SIDE / max(frames.shape[1:3])
    if scale < 1:
        frames = np.stack([cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for f in frames])
    return frames


def head_angles(face: DlibFace, path: str, first: int = 0, last: int | None = None) -> tuple[np.ndarray, int]:
    frames = read_frames(path, first, last)
    angles, _ = relative_angles(rotations(face, frames))
    return angles, int(np.isnan(angles).any(axis=1).sum())  # no face found, or a misfit


def spread(angles: np.ndarray) -> np.ndarray:
    """[3] standard deviation of yaw / pitch / roll over the frames read (NaN with fewer than 10)."""
    ok = ~np.isnan(angles).any(axis=1)
    return angles[ok].std(axis=0) if ok.sum() >= 10 else np.full(3, np.nan)


def _row(name: str, values) -> str:
    return f"{name:24s}" + "".join(f"{v:8.2f}" for v in values)


def measure_videos(face: DlibFace, paths: list[str]) -> None:
    print(f"{'video':24s}{'yaw sd':>8s}{'pitch':>8s}{'roll':>8s}   1st / 99th percentile (deg), frames read / left out")
    for path in paths:
        angles, left_out = head_angles(face, path)
        ok = ~np.isnan(angles).any(axis=1)
        low, high = np.percentile(angles[ok], [1, 99], axis=0) if ok.any() else (np.full(3, np.nan),) * 2
        ranges = "  ".join(f"{a:+.1f}..{b:+.1f}" for a, b in zip(low, high))
        print(_row(os.path.basename(path)[-24:], spread(angles)) + f"   {ranges}  {len(angles)} / {left_out}")


def measure_gallery(face: DlibFace, folder: str, talking: str, first: int, last: int) -> None:
    print(f"frames {first}-{last}; yaw / pitch / roll sd in degrees")
    print(f"{'clip':24s}{'real':>8s}{'':16s}{'ours':>8s}{'':16s}   left out real / ours")
    real_all, ours_all = [], []
    for name in sorted(os.listdir(folder)):
        render = os.path.join(folder, name, "render.mp4")
        videos = [p for p in glob.glob(os.path.join(talking, f"*{name}.*")) if not p.endswith(".wav")]
        if not os.path.isfile(render) or not videos:
            continue
        real, real_out = head_angles(face, videos[0], first, last)
        ours, ours_out = head_angles(face, render, first, last)
        real_sd, ours_sd = spread(real), spread(ours)
        real_all.append(real_sd)
        ours_all.append(ours_sd)
        print(_row(name[-24:], [*real_sd, *ours_sd]) + f"   {real_out} / {ours_out}", flush=True)
    if not real_all:
        raise SystemExit(f"{folder}: no clip folders with render.mp4 matching a video in {talking}")
    real_median, ours_median = np.nanmedian(real_all, axis=0), np.nanmedian(ours_all, axis=0)
    print(_row("median clip", [*real_median, *ours_median]))
    print("ours / real (median clips): " + " / ".join(f"{v:.2f}x" for v in ours_median / real_median))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", nargs="*", help="videos to read whole")
    parser.add_argument("--gallery", help="a `bench/gallery.py --real` output folder")
    parser.add_argument("--talking", default=os.path.join(SHARED, "talking"), help="the real videos")
    parser.add_argument("--frames", default="25:100", help="FIRST:LAST frames compared in --gallery mode")
    args = parser.parse_args()
    if not args.videos and not args.gallery:
        parser.error("give videos, or --gallery DIR")
    reason = dlib_missing_reason()
    if reason:
        raise SystemExit(f"this bench needs dlib: {reason}")
    face = DlibFace()
    if args.videos:
        measure_videos(face, args.videos)
    if args.gallery:
        first, last = (int(v) for v in args.frames.split(":"))
        measure_gallery(face, args.gallery, args.talking, first, last)
    return 0


if __name__ == "__main__":
    sys.exit(main())
