"""Dev tool (not imported by the pack): derive the face triangulation stored in modit/render/data/face_topology.json.

Delaunay triangulation (scipy) of a frontal 2D layout of the 468 MediaPipe face-mesh points, namely the
reference-runtime landmarks of skimage's astronaut portrait in tests/render/data/astronaut_landmarks.npy. Triangles
outside the face oval or inside the mouth and eye openings are dropped; the renderer adds its own strips there.
Run: /work/venv/bin/python tests/render/build_topology.py
"""
import json
import os

import numpy as np
from scipy.spatial import Delaunay

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "modit", "render", "data", "face_topology.json")

FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
INNER_LIP_UPPER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
INNER_LIP_LOWER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
OUTER_LIP_UPPER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
OUTER_LIP_LOWER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
# Eyes (subject's left / right), corner to corner; the upper and lower lid margins share the corners.
LEFT_EYE_UPPER = [362, 398, 384, 385, 386, 387, 388, 466, 263]
LEFT_EYE_LOWER = [362, 382, 381, 380, 374, 373, 390, 249, 263]
RIGHT_EYE_UPPER = [133, 173, 157, 158, 159, 160, 161, 246, 33]
RIGHT_EYE_LOWER = [133, 155, 154, 153, 145, 144, 163, 7, 33]
# The row of lid skin just above each upper margin (same order, without the corners).
LEFT_LID_CREASE = [414, 286, 258, 257, 259, 260, 467]
RIGHT_LID_CREASE = [190, 56, 28, 27, 29, 30, 247]


def inside(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test, vectorised over points."""
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = polygon[:, 0][None], polygon[:, 1][None]
    x1, y1 = np.roll(polygon[:, 0], -1)[None], np.roll(polygon[:, 1], -1)[None]
    crosses = ((y0 > y) != (y1 > y)) & (x < (x1 - x0) * (y - y0) / (y1 - y0 + 1e-12) + x0)
    return crosses.sum(1) % 2 == 1


def check_coverage(points, triangles, holes):
    """Every point inside the oval and outside the openings must lie in exactly one triangle."""
    low, high = points.min(0), points.max(0)
    xs, ys = np.meshgrid(np.linspace(low[0], high[0], 300), np.linspace(low[1], high[1], 300))
    probe = np.stack([xs.ravel(), ys.ravel()], 1)
    want = inside(points[FACE_OVAL], probe)
    for hole in holes:
        want &= ~inside(points[hole], probe)
    hits = np.zeros(len(probe), int)
    for tri in triangles:
        hits += inside(points[tri], probe)
    print(f"coverage: {np.mean(hits[want] == 1):.4f} covered once, {np.sum(hits[want] == 0)} gaps, "
          f"{np.sum(hits[want] > 1)} overlaps, {np.sum(hits[~want] > 0)} outside")


def main():
    points = np.load(os.path.join(HERE, "data", "astronaut_landmarks.npy"))[:, :2].astype(np.float64)
    holes = [INNER_LIP_UPPER + INNER_LIP_LOWER[-2:0:-1], LEFT_EYE_UPPER + LEFT_EYE_LOWER[-2:0:-1],
             RIGHT_EYE_UPPER + RIGHT_EYE_LOWER[-2:0:-1]]
    # Points that this layout puts outside the oval or inside an opening would make triangles cross those
    # outlines; they are left out (a few second-row lip and jaw-line points), so the outlines stay edges.
    boundary = set(FACE_OVAL).union(*holes)
    used = np.array([i for i in range(len(points)) if i in boundary or (
        inside(points[FACE_OVAL], points[i:i + 1])[0] and not any(inside(points[h], points[i:i + 1])[0] for h in holes))])
    triangles = used[Delaunay(points[used]).simplices]
    centroids = points[triangles].mean(1)
    keep = inside(points[FACE_OVAL], centroids)
    # A triangle goes only if it lies wholly in an opening (centroid and edge midpoints): one that reaches
    # across a concave stretch of the outline stays, so the face has no gaps (it overlaps the strip instead).
    probes = [centroids] + [(points[triangles[:, i]] + points[triangles[:, (i + 1) % 3]]) / 2 for i in range(3)]
    for hole in holes:
        keep &= ~np.all([inside(points[hole], probe) for probe in probes], axis=0)
    triangles = triangles[keep]
    check_coverage(points, triangles, holes)
    # Counter-clockwise in image coordinates (y down) so the renderer can test orientation cheaply.
    a, b, c = (points[triangles[:, i]] for i in range(3))
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    triangles[area < 0] = triangles[area < 0][:, [0, 2, 1]]
    topology = {
        "about": "Triangulation of the 468-point MediaPipe face-mesh topology (indices only), derived for this "
                 "pack by Delaunay triangulation of a frontal landmark layout (tests/render/build_topology.py); "
                 "mouth and eye openings are left open. Index lists name landmark groups of that topology.",
        "face_oval": FACE_OVAL,
        "inner_lip_upper": INNER_LIP_UPPER, "inner_lip_lower": INNER_LIP_LOWER,
        "outer_lip_upper": OUTER_LIP_UPPER, "outer_lip_lower": OUTER_LIP_LOWER,
        "left_eye_upper": LEFT_EYE_UPPER, "left_eye_lower": LEFT_EYE_LOWER,
        "right_eye_upper": RIGHT_EYE_UPPER, "right_eye_lower": RIGHT_EYE_LOWER,
        "left_lid_crease": LEFT_LID_CREASE, "right_lid_crease": RIGHT_LID_CREASE,
        "triangles": triangles.tolist(),
    }
    with open(OUT, "w") as f:
        json.dump(topology, f, separators=(",", ":"))
    print(f"{len(triangles)} triangles -> {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
