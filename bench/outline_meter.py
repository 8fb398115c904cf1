"""How cleanly the face's outline turns (issue 15: "the paste-back boundary is invisible on a moving head").

    python bench/outline_meter.py [--pack CHECKOUT] [--only a,b] [--sheet out.png]

Renders every gallery portrait (../shared/data/faces) turned by YAWS degrees, the source's own expression and
nothing else moving, with the pack's flow renderer at 512 px. Along the face's outline (dlib's jaw line, points 0-16,
found on each frame, in a band BAND inter-ocular distances either side of it) it counts the one-pixel steps and hard
corners of the gallery's artifact meter (bench/gallery_meters.py, its thresholds as they are), on frames scaled to
the same inter-ocular distance. A torn or stair-stepped cheek, a ghost contour beside the real one, a straight hard
line where the far cheek folds: each adds steps and corners the portrait's own outline does not have. Printed per
face and yaw: the band's share of such pixels over the source's own (1 = as clean as the portrait). `--sheet`
writes the turned heads side by side (third-party faces: keep it out of git).

A coarse meter: resampling softens hair, stubble and background texture in the band, so a clean turn reads below 1
and a torn contour on a textured face can still read under 1. Compare trees face by face and look at the sheet.
"""
import argparse
import math
import os
import sys

import cv2
import numpy as np

import gallery_meters as meters
from _pack import load_pack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FACES = os.path.join(ROOT, "..", "shared", "data", "faces")
YAWS = (-20.0, -12.0, -8.0, 8.0, 12.0, 20.0)
JAW = list(range(17))
BAND = 0.25  # inter-ocular distances either side of the jaw line
SIZE = 512


def outline_band(shape_hw, points: np.ndarray, iod: float) -> np.ndarray:
    """bool [H, W]: within BAND IODs of the jaw line's polyline."""
    mask = np.zeros(shape_hw, np.uint8)
    thickness = max(1, int(round(2 * BAND * iod)))
    cv2.polylines(mask, [points[JAW].round().astype(np.int32)], False, 1, thickness)
    return mask > 0


def roughness(image: np.ndarray, points: np.ndarray) -> float:
    """Share of the outline band that is one-pixel steps or hard corners, at NORM_IOD px between the eyes."""
    scale = meters.NORM_IOD / max(meters.inter_ocular(points), 1e-6)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    maps = meters.artifact_maps(small)
    band = outline_band(small.shape[:2], points * scale, meters.NORM_IOD)
    rough = (maps["step"] | maps["corner"]) & band
    return float(rough.sum()) / max(int(band.sum()), 1)


def turned_frames(image: np.ndarray) -> np.ndarray:
    """[1 + len(YAWS), H, W, 3] uint8: the render at zero motion, then turned by each of YAWS."""
    import torch
    from comfyui_modit.modit.face.analysis import analyse_portrait
    from comfyui_modit.modit.render.renderer import RenderOptions, render_frames
    from comfyui_modit.modit.types import Motion

    face = analyse_portrait(torch.from_numpy(image).float() / 255)
    pose = torch.zeros(1 + len(YAWS), 6)
    pose[1:, 0] = torch.tensor(YAWS) * math.pi / 180
    motion = Motion(face.beta_0.float().repeat(pose.shape[0], 1), pose, torch.zeros(pose.shape[0], 2), 25.0, face.space)
    frames, _ = render_frames(face, motion, RenderOptions(max_side=SIZE))
    return (frames.float().numpy() * 255).round().clip(0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pack", default=ROOT, help="checkout to measure (default: this one)")
    parser.add_argument("--faces", default=FACES)
    parser.add_argument("--only", help="comma-separated words: faces whose name contains one")
    parser.add_argument("--sheet", help="PNG of the turned heads, one row per face")
    args = parser.parse_args()
    load_pack("comfyui_modit", args.pack)
    dlib_face = meters.DlibFace()
    names = sorted(n for n in os.listdir(args.faces) if n.lower().endswith((".jpg", ".jpeg", ".png")))
    if args.only:
        names = [n for n in names if any(word in n for word in args.only.split(","))]
    print(f"{'face':<36}" + "".join(f"{yaw:>+8.0f}" for yaw in YAWS) + "   (steps and corners on the outline, "
          "over the source's own)")
    ratios, rows = [], []
    for name in names:
        image = cv2.cvtColor(cv2.imread(os.path.join(args.faces, name)), cv2.COLOR_BGR2RGB)
        frames = turned_frames(np.ascontiguousarray(image))
        shapes = [dlib_face.shape(frame) for frame in frames]
        if shapes[0] is None:
            print(f"{name[:35]:<36}  dlib finds no face", flush=True)
            continue
        own = max(roughness(frames[0], dlib_face.points(shapes[0])), 1e-4)
        row = [roughness(frame, dlib_face.points(shape)) / own if shape is not None else np.nan
               for frame, shape in zip(frames[1:], shapes[1:])]
        ratios.append(row)
        print(f"{name[:35]:<36}" + "".join(f"{value:8.2f}" for value in row), flush=True)
        if args.sheet:
            rows.append(np.hstack([cv2.resize(frame, (240, round(240 * frame.shape[0] / frame.shape[1])))[:300]
                                   for frame in frames]))
    table = np.array(ratios)
    print(f"{'median':<36}" + "".join(f"{value:8.2f}" for value in np.nanmedian(table, 0)))
    print(f"{'worst':<36}" + "".join(f"{value:8.2f}" for value in np.nanmax(table, 0)))
    if args.sheet and rows:
        height = max(r.shape[0] for r in rows)
        rows = [np.pad(r, ((0, height - r.shape[0]), (0, 0), (0, 0))) for r in rows]
        cv2.imwrite(args.sheet, cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    sys.exit(main())
