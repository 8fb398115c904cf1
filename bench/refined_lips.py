"""How far apart a portrait's lips are, read three ways on the first frames of the real talking clips (issue 15).

The speech lift (dit/speech_opening.py) and the nodes' other mouth corrections act on how far apart the portrait's
lips are. For each clip's first frame this prints the inner-lip gap (three inner-lip pairs, mean, over the distance
between the eye centres) as Face Mesh places the lips (Face.landmarks), as MediaPipe's attention mesh places them
again (bench/attention_mesh.py), and as dlib's 68 points do (an independent tracker the pack never runs),
then how closely each pack reading follows dlib's over the clips (Pearson r) and the range each reads on the clips
dlib calls together (under 0.04) and apart (0.1 or more). Also per clip: the speech lift's share (lips_together) each
reading gives.

    python bench/attention_mesh.py --convert                                             # once: its weight file
    python bench/refined_lips.py [--videos ../shared/data/talking] [--only NAME,...]      # about 1 s a clip

Needs dlib (bench/requirements.txt).
"""
import argparse
import glob
import os

import cv2
import numpy as np
import torch

from attention_mesh import load_attention_mesh, refined_lips, with_refined_lips  # bench/ is sys.path[0]: siblings
from gallery_meters import LIPS_TOGETHER, DlibFace, mouth_opening

from comfyui_modit.modit.dit import speech_opening  # noqa: E402  (attention_mesh loaded the pack)
from comfyui_modit.modit.face.analysis import analyse_portrait  # noqa: E402

PAIRS = ((13, 14), (82, 87), (312, 317))  # Face Mesh's inner-lip pairs at dlib's 62-66, 61-67, 63-65
APART = 0.1  # dlib's reading (inter-ocular distances) from which a first frame's lips count as well apart
VIDEO_TYPES = (".mp4", ".mov", ".mpg", ".avi", ".mkv")


def gap(points: np.ndarray) -> float:
    eyes = np.linalg.norm(points[[33, 133]].mean(0) - points[[362, 263]].mean(0))
    return float(np.mean([np.linalg.norm(points[a] - points[b]) for a, b in PAIRS]) / max(eyes, 1e-6))


def first_frame(path: str) -> np.ndarray | None:
    ok, frame = cv2.VideoCapture(path).read()
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if ok else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                         "talking"))
    parser.add_argument("--only", help="comma-separated words: clips whose name contains one")
    args = parser.parse_args()
    mesh = load_attention_mesh()
    dlib_face = DlibFace()
    paths = sorted(p for p in glob.glob(os.path.join(args.videos, "*")) if p.lower().endswith(VIDEO_TYPES))
    if args.only:
        paths = [p for p in paths if any(word in os.path.basename(p) for word in args.only.split(","))]
    rows = []
    print(f"{'clip':34s} {'dlib':>6s} {'mesh':>6s} {'refined':>7s}   lift share mesh -> refined")
    for path in paths:
        image = first_frame(path)
        shape = None if image is None else dlib_face.shape(image)
        if shape is None:
            continue
        try:
            face = analyse_portrait(torch.from_numpy(image).float() / 255)
        except ValueError:
            continue
        refined = with_refined_lips(face, refined_lips(mesh, face))
        row = (mouth_opening(DlibFace.points(shape)), gap(face.landmarks.numpy()), gap(refined.numpy()))
        rows.append(row)
        name = os.path.splitext(os.path.basename(path))[0].split("__")[-1]
        print(f"{name[:34]:34s} {row[0]:6.3f} {row[1]:6.3f} {row[2]:7.3f}   "
              f"{speech_opening.lips_together(face.landmarks):.2f} -> "
              f"{speech_opening.lips_together(refined):.2f}", flush=True)
    table = np.array(rows)
    together, apart = table[:, 0] < LIPS_TOGETHER, table[:, 0] >= APART
    print(f"\n{len(table)} clips; r with dlib: mesh {np.corrcoef(table[:, 0], table[:, 1])[0, 1]:.3f}, "
          f"refined {np.corrcoef(table[:, 0], table[:, 2])[0, 1]:.3f}")
    for label, column in (("mesh", 1), ("refined", 2)):
        print(f"{label:8s} on dlib's together ({together.sum()}): {table[together, column].min():.3f}-"
              f"{table[together, column].max():.3f} (median {np.median(table[together, column]):.3f}); "
              f"apart ({apart.sum()}): {table[apart, column].min():.3f}-{table[apart, column].max():.3f} "
              f"(median {np.median(table[apart, column]):.3f})")


if __name__ == "__main__":
    main()
