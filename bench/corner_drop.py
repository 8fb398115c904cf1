"""How far each part of the mouth drops as the jaw opens: real talking people against jaw_open (issue 15).

    python bench/corner_drop.py /work/data/real [--faces tilted,boy_south,large_frontal]

Reads the pose-free meshes that `python -m modit_app data` stores beside each shard (DIR/<split>/meshes/*.safetensors).
Per clip, the "wide" frames are the tenth with the largest inner-lip gap (over the mouth's width) and the "closed" ones
the tenth with the smallest; each point's drop is its mean move between the two, perpendicular to the line between
the inner mouth corners, as a share of the lower lip's middle (point 14). Printed: the median over clips, then
jaw_open's own share of the same (the basis on the canonical mesh) and, with --faces, the renderer's driven mesh on
gallery portraits at jaw_open +0.6 (the render's guards included), and the mean gap between them over the mouth.

The real opening drops its corners by about a quarter of the lower lip's middle, and the lip between the inner and
outer corner with them; a larger share (embedded-v1 before stop 32: 0.55) ends a wide opening in a vertical wall.
"""
import argparse
import glob
import os

import numpy as np
import torch

from _pack import load_pack

load_pack()
from comfyui_modit.modit.checkpoints import load_checkpoint  # noqa: E402
from comfyui_modit.modit.face import expression  # noqa: E402
from comfyui_modit.modit.face import landmarks as lm  # noqa: E402
from comfyui_modit.modit.face.components import JAW_OPEN  # noqa: E402
from comfyui_modit.modit.render.overlays import down_axis  # noqa: E402

LOWER_MIDDLE = lm.LOWER_LIP_MID_INNER
PARTS = {  # column: (subject's right point, left point)
    "corner": (78, 308), "outer": (61, 291), "between": (62, 292),  # inner and outer corner, the lip between
    "up 1": (191, 415), "up 2": (80, 310), "up mid": (13, 13),  # the upper lip's inner edge, from the corner
    "low 1": (95, 324), "low 2": (88, 318), "low mid": (14, 14),  # the lower lip's inner edge
    "out 1": (146, 375), "out 2": (91, 321), "out mid": (17, 17),  # the lower lip's outer edge
}
NEAR_MOUTH = 0.6  # mouth widths from the nearer outer corner: the points the mean gap is taken over


def downward(meshes: torch.Tensor) -> torch.Tensor:
    """[T, 2] unit vectors across each frame's inner mouth corners, pointing down the image."""
    return down_axis(meshes[:, [lm.INNER_MOUTH_CORNER_RIGHT, lm.INNER_MOUTH_CORNER_LEFT], :2])


def drop_shares(closed: torch.Tensor, wide: torch.Tensor) -> np.ndarray:
    """[468] each point's drop from the closed mesh [468, >=2] to the wide one, over the lower lip middle's."""
    down = downward(closed[None])[0]
    drop = ((wide[:, :2] - closed[:, :2]) * down).sum(-1)
    return (drop / drop[LOWER_MIDDLE]).numpy()


def clip_shares(meshes: torch.Tensor, share: float = 0.1) -> np.ndarray | None:
    """drop_shares between a clip's closed and wide frames (meshes [T, 468, 3]); None if it never opens."""
    down = downward(meshes)
    gap = ((meshes[:, LOWER_MIDDLE, :2] - meshes[:, lm.UPPER_LIP_MID_INNER, :2]) * down).sum(-1)
    gap = gap / (meshes[:, lm.MOUTH_CORNER_LEFT, :2] - meshes[:, lm.MOUTH_CORNER_RIGHT, :2]).norm(dim=-1)
    low, high = np.quantile(gap.numpy(), [share, 1 - share])
    closed, wide = gap <= low, gap >= high
    if int(wide.sum()) < 3 or float(gap[wide].mean() - gap[closed].mean()) < 0.05:
        return None
    return drop_shares(meshes[closed].mean(0), meshes[wide].mean(0))


def print_row(name: str, shares: np.ndarray) -> None:
    print(f"{name:<24}" + "".join(f"{(shares[a] + shares[b]) / 2:>8.2f}" for a, b in PARTS.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("shards", help="the data folder of `python -m modit_app data build` (train/ and val/)")
    parser.add_argument("--faces", default="", help="comma-separated gallery file prefixes to drive as well")
    parser.add_argument("--gallery", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                          "faces"))
    args = parser.parse_args()

    files = sorted(glob.glob(os.path.join(args.shards, "*", "meshes", "*.safetensors")))
    if not files:
        raise SystemExit(f"no meshes under {args.shards}/*/meshes: build the data first (modit/train/README.md)")
    real = [s for s in (clip_shares(load_checkpoint(f)[0]["canonical"].float()) for f in files) if s is not None]
    real = np.median(real, 0)
    print(f"{'drop / lower lip middle':<24}" + "".join(f"{name:>8}" for name in PARTS))
    print_row(f"real ({len(files)} clips)", real)
    neutral = expression.neutral_template()
    jaw = expression.basis()[JAW_OPEN]
    basis = drop_shares(neutral, neutral + jaw)
    print_row("jaw_open (basis)", basis)

    xy = expression.canonical_mesh()[:, :2].numpy()
    width = np.linalg.norm(xy[lm.MOUTH_CORNER_LEFT] - xy[lm.MOUTH_CORNER_RIGHT])
    to_corner = np.minimum(*(np.linalg.norm(xy - xy[c], axis=1) for c in (lm.MOUTH_CORNER_RIGHT, lm.MOUTH_CORNER_LEFT)))
    near = to_corner / width < NEAR_MOUTH
    print(f"mean |basis - real| over the {int(near.sum())} points near the mouth: {np.abs(basis - real)[near].mean():.3f}")

    if args.faces:
        from portrait_image import load_portrait
        from comfyui_modit.modit.face.analysis import analyse_portrait
        from comfyui_modit.modit.render.geometry import drive_landmarks
        from comfyui_modit.modit.render.topology import render_topology

        for prefix in args.faces.split(","):
            path = sorted(glob.glob(os.path.join(args.gallery, f"{prefix}*")))[0]
            face = analyse_portrait(load_portrait(path, 512))
            expressions = face.beta_0.float().repeat(2, 1)
            expressions[1, JAW_OPEN] += 0.6
            meshes = drive_landmarks(face, expressions, torch.zeros(2, 6), render_topology())
            shares = drop_shares(meshes[0], meshes[1])
            print_row(prefix[:24], shares)
            print(f"{'':<24}mean |driven - real| near the mouth: {np.abs(shares - real)[near].mean():.3f}")


if __name__ == "__main__":
    main()
