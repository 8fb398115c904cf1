"""Bench: does the renderer show a mouth as open as the face stack read it? Self-reenactment of real clips.

Each clip's own performance is read by MoDiT Extract Motion (the tracker that made the DiT's training data) and
rendered on the clip's first frame, the head held still. dlib's inner-lip opening (gallery_meters.mouth_opening, in
inter-ocular distances) is then read on every rendered frame and on the real frame it came from. A renderer that is
the tracker's inverse shows each frame as open as the real one: render / real near 1 in every bin of the real
opening. Beside them, the tracker's own reading of the real frames (ExtractedMotion.mouth_open).

    OMP_NUM_THREADS=2 python bench/reenact_opening.py Obama_clip2 fadg0_sa1 ...     # clips in ../shared/data/talking
    python bench/reenact_opening.py --all                                           # every talking clip

Prints one row per clip (medians over its frames) and the openings binned by the real one over all clips.
Writes nothing.
"""
import argparse
import glob
import os
import sys

import numpy as np

from _pack import load_pack  # bench/ is sys.path[0] when this file runs: siblings import
from gallery_meters import DlibFace, dlib_missing_reason, mouth_opening
from gallery_video import decode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TALKING = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "talking"))
VIDEO_TYPES = (".mp4", ".mov", ".mpg")
FRAMES = 100  # the first frames of each clip, as the gallery renders them
MAX_SIDE = 512
BINS = ((0.0, 0.03), (0.03, 0.06), (0.06, 0.10), (0.10, 0.15), (0.15, 0.22), (0.22, 1.0))  # real opening, IOD


def openings(face: DlibFace, frames: np.ndarray) -> np.ndarray:
    """dlib's inner-lip opening per frame [T] (NaN where it finds no face), tracking from the previous frame."""
    out, previous = [], None
    for frame in frames:
        previous = face.shape(np.ascontiguousarray(frame), previous)
        out.append(np.nan if previous is None else mouth_opening(face.points(previous)))
    return np.array(out)


def reenact(dlib_face: DlibFace, path: str) -> np.ndarray:
    """[T, 3]: (dlib on the real frame, dlib on its reenactment, the tracker's reading of the real frame)."""
    import cv2
    import torch

    from comfyui_modit.modit.data.motion_track import extract_motion
    from comfyui_modit.modit.face.analysis import analyse_portrait
    from comfyui_modit.modit.render.renderer import RenderOptions, render_frames
    from comfyui_modit.modit.types import Motion

    real, fps = decode(path)
    real = real[:FRAMES]
    scale = MAX_SIDE / max(real.shape[1:3])
    if scale < 1:
        real = np.stack([cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for f in real])
    frames = torch.from_numpy(real).float() / 255
    face = analyse_portrait(frames[0])
    extracted = extract_motion(frames, fps, beta_0=face.beta_0)
    m = extracted.motion
    still = Motion(m.expression, torch.zeros_like(m.pose), torch.zeros_like(m.eye_closure), m.fps, m.space)
    rendered, _ = render_frames(face, still, RenderOptions())
    rendered = (rendered.numpy() * 255).round().clip(0, 255).astype(np.uint8)
    return np.stack([openings(dlib_face, real), openings(dlib_face, rendered), extracted.mouth_open.numpy()], 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", help="words naming clips in --talking (a file name's part after '__')")
    parser.add_argument("--all", action="store_true", help="every clip in --talking")
    parser.add_argument("--talking", default=TALKING)
    args = parser.parse_args()
    missing = dlib_missing_reason()
    if missing:
        print(f"skipped: {missing}", file=sys.stderr)
        return 0
    paths = sorted(p for p in glob.glob(os.path.join(args.talking, "*")) if p.lower().endswith(VIDEO_TYPES))
    if not args.all:
        paths = [p for p in paths if any(os.path.splitext(os.path.basename(p))[0].endswith("__" + c)
                                         for c in args.clips)]
    if not paths:
        parser.error("no clip named; give clip names (e.g. Obama_clip2) or --all")
    load_pack()
    dlib_face = DlibFace()  # its models load once, not once per clip
    rows = []
    print(f"{'clip':24s} real  render  ratio  tracker  (medians of dlib's opening over the frames, IOD)")
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0].split("__")[-1]
        try:
            measured = reenact(dlib_face, path)
        except Exception as error:  # one clip without a face must not cost the others their figures
            print(f"{name:24s} FAILED: {type(error).__name__}: {error}", flush=True)
            continue
        measured = measured[np.isfinite(measured[:, :2]).all(1)]
        if not len(measured):
            print(f"{name:24s} dlib finds no face in the real or the rendered frames", flush=True)
            continue
        real, render, tracker = np.median(measured, 0)
        print(f"{name:24s} {real:.3f}  {render:.3f}  {render / max(real, 1e-6):5.2f}  {tracker:.3f}", flush=True)
        rows.append(measured)
    if not rows:
        return 1
    every = np.concatenate(rows)
    print(f"\nall {len(rows)} clips, {len(every)} frames, by the real opening: median real / render (render / real), "
          "tracker")
    for low, high in BINS:
        picked = every[(every[:, 0] >= low) & (every[:, 0] < high)]
        if len(picked):
            real, render, tracker = np.median(picked, 0)
            print(f"  {low:.2f}-{high:.2f}  n {len(picked):5d}  {real:.3f} / {render:.3f} ({render / max(real, 1e-6):.2f})"
                  f"  {tracker:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
