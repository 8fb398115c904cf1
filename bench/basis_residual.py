"""Can the 12 hand-built embedded-v1 components represent what real mouths do? (issue 14, item "fit residual")

    python bench/basis_residual.py /work/data/real/shards [--synthetic DIR_OR_MP4 ...] [--pca-out FILE]

Reads the pose-free meshes that `python -m modit_app data` stores beside each shard (SHARDS/<split>/meshes/*.safetensors,
canonical units: outer eye corners 1 apart, so 1 unit ~ the inter-ocular distance). Per clip, the mouth's MOTION is
    d_t = X_t - mean_t(X_t)                      on the mouth region (outer + inner lip points, x and y)
and its part the basis cannot express is the residual of the least-squares fit of d_t by B (embedded-v1's own
weighted fit, expression.fit, with the clip mean as neutral). Printed per clip and per split:
    motion   RMS of d_t over mouth points (inter-ocular units)
    resid    RMS of the residual
    unexpl   resid^2 / motion^2: the share of real mouth-motion energy the 12 components leave out
The same is measured on --synthetic clips (e.g. the bundled portrait rendered under known curves and re-read by the
tracker): there the motion IS in the basis, so `unexpl` is the tracker's noise floor.

With --pca-out, a PCA basis of d_t over the TRAIN clips' mouth-region meshes (all 468 points, pose-free) is
learned and evaluated on the VAL clips with the same measure for K = 4, 8, 12, 16 components, and the 12-component
basis is saved (safetensors: mean-free displacement fields [12, 468, 3] in canonical units, rows ordered by
explained variance). It is NOT wired into the renderer: that is a decision for whoever owns the basis.
"""
import argparse
import glob
import os

import numpy as np
import torch

from _pack import load_pack

load_pack()
from comfyui_modit.modit.checkpoints import load_checkpoint, save_checkpoint  # noqa: E402
from comfyui_modit.modit.face import expression  # noqa: E402
from comfyui_modit.modit.face import landmarks as lm  # noqa: E402

MOUTH = sorted(set(lm.LIPS_UPPER_OUTER + lm.LIPS_LOWER_OUTER + lm.LIPS_UPPER_INNER + lm.LIPS_LOWER_INNER))


def mouth_rms(d: np.ndarray) -> float:
    """RMS over frames and mouth points of the xy displacement [T, 468, 3]."""
    return float(np.sqrt((d[:, MOUTH, :2] ** 2).sum(-1).mean()))


def basis_residual(meshes: np.ndarray) -> tuple[float, float]:
    """(motion RMS, residual RMS) of a clip's meshes [T, 468, 3] under embedded-v1's fit."""
    mean = meshes.mean(0)
    beta = expression.fit(torch.from_numpy(meshes).float(), torch.from_numpy(mean).float())  # [T, K]
    decoded = expression.decode(torch.from_numpy(mean).float(), beta).numpy()
    return mouth_rms(meshes - mean), mouth_rms(meshes - decoded)


def pca_residual(meshes: np.ndarray, fields: np.ndarray) -> float:
    """Residual RMS of a clip's motion projected (least squares, mouth xy) on the first K fields [K, 468, 3]."""
    d = meshes - meshes.mean(0)
    A = fields[:, MOUTH, :2].reshape(fields.shape[0], -1).T  # [M*2, K]
    y = d[:, MOUTH, :2].reshape(d.shape[0], -1).T  # [M*2, T]
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    r = (y - A @ coef).T.reshape(d.shape[0], len(MOUTH), 2)
    return float(np.sqrt((r ** 2).sum(-1).mean()))


def load_split(root: str, split: str) -> dict:
    out = {}
    for path in sorted(glob.glob(os.path.join(root, split, "meshes", "*.safetensors"))):
        tensors, _ = load_checkpoint(path)
        meshes = tensors["canonical"].double().numpy()
        if meshes.shape[0] >= 25:
            out[os.path.basename(path).rsplit(".", 1)[0]] = meshes
    return out


def synthetic_meshes(path: str) -> np.ndarray:
    """Pose-free meshes of every frame of an mp4, read by the data tracker."""
    from comfyui_modit.modit.data import video
    from comfyui_modit.modit.data.tracking import FaceTracker

    tracker = FaceTracker()
    rows = []
    for _, _, rgb in video.frames_at(path, 25):
        m = tracker.measure(torch.from_numpy(rgb).float() / 255)
        if m.face:
            rows.append(m.canonical)
    return np.asarray(rows, dtype=np.float64)


def report(name: str, clips: dict) -> None:
    motions, resids = [], []
    for clip, meshes in clips.items():
        motion, resid = basis_residual(meshes)
        motions.append(motion)
        resids.append(resid)
        print(f"  {clip[:60]:60s} T {meshes.shape[0]:4d}  motion {motion:.4f}  resid {resid:.4f}  "
              f"unexpl {resid ** 2 / max(motion ** 2, 1e-12):.2f}")
    if motions:
        m, r = np.asarray(motions), np.asarray(resids)
        print(f"{name}: {len(m)} clips, median motion {np.median(m):.4f}, median resid {np.median(r):.4f}, "
              f"median unexplained {np.median(r ** 2 / m ** 2):.2f} (pooled {float((r ** 2).sum() / (m ** 2).sum()):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shards", help="the folder `python -m modit_app data build` wrote (train/ and val/ inside)")
    parser.add_argument("--synthetic", nargs="*", default=[], help="mp4s whose motion is known to lie in the basis")
    parser.add_argument("--pca-out", help="learn a PCA basis on train, evaluate on val, save 12 fields here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    splits = {split: load_split(args.shards, split) for split in ("train", "val")}
    for split, clips in splits.items():
        print(f"== {split}: embedded-v1 residual of real mouth motion (inter-ocular units)")
        report(split, clips)
    if args.synthetic:
        print("== synthetic (rendered under curves inside the basis, re-read by the tracker)")
        report("synthetic", {os.path.basename(p): synthetic_meshes(p) for p in args.synthetic})
    if args.pca_out:
        train = np.concatenate([m - m.mean(0) for m in splits["train"].values()])  # [N, 468, 3]
        region = np.zeros(468, bool)
        region[MOUTH] = True
        flat = train[:, region, :2].reshape(train.shape[0], -1)
        _, S, Vt = np.linalg.svd(flat - flat.mean(0), full_matrices=False)
        share = np.cumsum(S ** 2) / (S ** 2).sum()
        print(f"== PCA of train mouth motion ({train.shape[0]} frames): variance explained by K = 4, 8, 12, 16: "
              + ", ".join(f"{share[k - 1]:.3f}" for k in (4, 8, 12, 16)))
        # Full-mesh fields: regress every point's displacement on the mouth PCA scores (so the field moves the
        # whole face the way real faces move with that mouth shape).
        scores = (flat - flat.mean(0)) @ Vt[:16].T  # [N, 16]
        full = train.reshape(train.shape[0], -1)
        coef, *_ = np.linalg.lstsq(scores, full - full.mean(0), rcond=None)  # [16, 468*3]
        fields = coef.reshape(16, 468, 3) * S[:16, None, None] / np.sqrt(train.shape[0])  # one std per unit
        for k in (4, 8, 12, 16):
            rs = [pca_residual(m, fields[:k]) for m in splits["val"].values()]
            ms = [mouth_rms(m - m.mean(0)) for m in splits["val"].values()]
            print(f"  val, PCA K={k:2d}: pooled unexplained {float((np.square(rs)).sum() / np.square(ms).sum()):.3f}")
        hand = [basis_residual(m) for m in splits["val"].values()]
        print(f"  val, embedded-v1 (12 hand-built): pooled unexplained "
              f"{float(sum(r * r for _, r in hand) / sum(m * m for m, _ in hand)):.3f}")
        hand_ls = [pca_residual(m, expression.basis().double().numpy()) for m in splits["val"].values()]
        print(f"  val, embedded-v1 span (unregularised least squares on mouth xy): pooled unexplained "
              f"{float(np.square(hand_ls).sum() / sum(m * m for m, _ in hand)):.3f}")
        save_checkpoint(args.pca_out, {"basis": torch.from_numpy(fields[:12]).float(),
                                       "explained_variance": torch.from_numpy(share[:16]).float()},
                        {"what": "PCA of real mouth motion (pose-free meshes), NOT wired into the renderer",
                         "terms": "research use only: learned from third-party footage (modit/train/real/manifest)"})
        print(f"saved {args.pca_out}")


if __name__ == "__main__":
    main()
