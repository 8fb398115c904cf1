"""The render mesh (paper §3.4.5): the 468-point face mesh, its mouth and eye strips, and the head anchor rings.

The face triangulation lives in data/face_topology.json (derived by tests/render/build_topology.py). The mouth
and eye openings are left open there; this module closes them with strips between the upper and lower margins
so that the warp stays continuous (a closed mouth collapses its strip to a line, an opened one stretches it;
the mouth and eye overlays then paint over the strip). Around the face oval two anchor rings carry the warp out
to the background: ring A (hair, ears, neck) follows the oval, ring B is fixed, so the flow fades to zero there
and nothing outside ring B moves.

Vertex layout (V = 468 + 2 * 36): face landmarks, then ring A (one point per oval landmark), then ring B.
"""
import functools
import json
import os
from dataclasses import dataclass

import torch

_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "face_topology.json")
NUM_LANDMARKS = 468


@dataclass(frozen=True)
class RenderTopology:
    """Index data of the render mesh; all tensors are int64 on the CPU."""

    triangles: torch.Tensor  # [F, 3] vertex indices of every triangle (face, strips, anchor bands)
    skin_triangles: torch.Tensor  # [F0, 3] the face's own triangles (no mouth/eye strips, no anchor bands)
    face_oval: torch.Tensor  # [36] landmark indices of the face outline, in order around the face
    inner_lip_upper: torch.Tensor  # [11] corner (78) to corner (308)
    inner_lip_lower: torch.Tensor  # [11] same corners
    outer_lip_upper: torch.Tensor  # [11]
    outer_lip_lower: torch.Tensor  # [11]
    eye_upper: torch.Tensor  # [2, 9] upper lid margins (left, right eye), corner to corner
    eye_lower: torch.Tensor  # [2, 9] lower lid margins, same corners
    lid_crease: torch.Tensor  # [2, 7] the lid skin row above each upper margin (interior points only)
    num_vertices: int

    @property
    def ring_a(self) -> torch.Tensor:
        """[36] vertex indices of anchor ring A (follows the head)."""
        return torch.arange(NUM_LANDMARKS, NUM_LANDMARKS + len(self.face_oval))

    @property
    def ring_b(self) -> torch.Tensor:
        """[36] vertex indices of anchor ring B (fixed to the background)."""
        n = len(self.face_oval)
        return torch.arange(NUM_LANDMARKS + n, NUM_LANDMARKS + 2 * n)


def _strip(upper: list[int], lower: list[int]) -> list[list[int]]:
    """Triangles filling the band between two index rows that run side by side (shared ends allowed)."""
    triangles = []
    for i in range(len(upper) - 1):
        for tri in ((upper[i], upper[i + 1], lower[i + 1]), (upper[i], lower[i + 1], lower[i])):
            if len(set(tri)) == 3:
                triangles.append(list(tri))
    return triangles


@functools.lru_cache(maxsize=1)
def render_topology() -> RenderTopology:
    """The pack's render mesh topology (loaded once)."""
    with open(_DATA) as f:
        data = json.load(f)
    triangles = list(data["triangles"])
    triangles += _strip(data["inner_lip_upper"], data["inner_lip_lower"])
    triangles += _strip(data["left_eye_upper"], data["left_eye_lower"])
    triangles += _strip(data["right_eye_upper"], data["right_eye_lower"])
    oval = data["face_oval"]
    n = len(oval)
    ring_a = [NUM_LANDMARKS + i for i in range(n)]
    ring_b = [NUM_LANDMARKS + n + i for i in range(n)]
    closed = list(range(n)) + [0]  # the rings are closed loops
    triangles += _strip([oval[i] for i in closed], [ring_a[i] for i in closed])
    triangles += _strip([ring_a[i] for i in closed], [ring_b[i] for i in closed])
    as_long = functools.partial(torch.tensor, dtype=torch.long)
    return RenderTopology(
        triangles=as_long(triangles), skin_triangles=as_long(data["triangles"]), face_oval=as_long(oval),
        inner_lip_upper=as_long(data["inner_lip_upper"]), inner_lip_lower=as_long(data["inner_lip_lower"]),
        outer_lip_upper=as_long(data["outer_lip_upper"]), outer_lip_lower=as_long(data["outer_lip_lower"]),
        eye_upper=as_long([data["left_eye_upper"], data["right_eye_upper"]]),
        eye_lower=as_long([data["left_eye_lower"], data["right_eye_lower"]]),
        lid_crease=as_long([data["left_lid_crease"], data["right_lid_crease"]]),
        num_vertices=NUM_LANDMARKS + 2 * n)
