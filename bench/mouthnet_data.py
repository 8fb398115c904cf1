"""Self-reenactment crops for the learned mouth (issue 15 item 4; modit/render/mouth_net.py).

For each real clip of one split (the speaker split of the extracted shards, /work/data/real/shards/{train,val}):
a few frames are portraits; other frames' measured motion (the shard's expression and pose, as offsets from the
portrait's own) drives the flow renderer on each portrait, and the real frame is the target. Per pair it writes,
in the mouth crop that follows the driven lips (mouth_net.mouth_crops): the procedural render, the source's own
mouth, the real target, the opening / lips / paste masks and the lip gate.

Alignment: the real frame's lips do not sit exactly where the driven mesh puts them (pose and expression are
measured with errors, and the 12 coefficients do not express every lip shape). The target is therefore sampled
through an affine fit from the driven lip points to the real frame's own measured lip landmarks (face mesh of the
real frame): the real mouth is brought onto the render's lips, so the net learns the mouth's appearance for the
driven shape, not a shift. Drive frames whose head turns more than MAX_TURN from the portrait's are skipped (the
affine cannot undo a large turn), and so are pairs whose lip fit leaves more than MAX_FIT_ERROR mouth widths.

    OMP_NUM_THREADS=1 nice -n 10 python bench/mouthnet_data.py --split train --out /work/data/mouthnet
    OMP_NUM_THREADS=1 nice -n 10 python bench/mouthnet_data.py --split val --out /work/data/mouthnet

Reads ../shared/data/talking (research-use footage): the crops it writes stay outside the repository.
"""
import argparse
import glob
import json
import os
import time
from importlib import import_module

import cv2
import numpy as np
import torch
from _pack import load_pack
from gallery_video import decode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TALKING = os.path.join(os.path.dirname(ROOT), "shared", "data", "talking")
SHARDS = "/work/data/real/shards"
MAX_SIDE = 512  # frames scaled to at most this, as the real-clip benches do
PORTRAITS = 4  # portrait frames per clip
DRIVES = 60  # drive frames per clip (half at random, half among the widest openings)
MAX_TURN = 0.15  # rad: largest yaw / pitch / roll difference between portrait and drive frame
MAX_FIT_ERROR = 0.06  # RMS of the lip fit, in mouth widths
FIT_ROWS = ("outer_upper", "outer_lower")  # all their points, plus the inner rows without the corners (moved)


def scaled(frame: np.ndarray) -> np.ndarray:
    s = MAX_SIDE / max(frame.shape[:2])
    return cv2.resize(frame, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else frame


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frame).float() / 255.0


def fit_points(rows: dict) -> torch.Tensor:
    """[..., Q, 2] the lip points the target is aligned on."""
    return torch.cat([rows["outer_upper"], rows["outer_lower"], rows["inner_upper"][..., 1:-1, :],
                      rows["inner_lower"][..., 1:-1, :]], -2)


def clip_pairs(pack, shard_path: str, rng: np.random.Generator) -> dict | None:
    from safetensors.torch import load_file

    analysis, renderer_mod, geometry, mn, overlays, topology = (
        import_module(f"{pack.__name__}.modit.{m}") for m in ("face.analysis", "render.renderer", "render.geometry",
                                                               "render.mouth_net", "render.overlays",
                                                               "render.topology"))
    info = json.load(open(shard_path.replace(".safetensors", ".json")))
    shard = load_file(shard_path)
    video = os.path.join(TALKING, info["source_file"])
    if not os.path.isfile(video):
        print(f"  missing {video}")
        return None
    frames, _ = decode(video)
    source_frame = shard["source_frame"].numpy()
    T = len(source_frame)
    expr, pose = shard["expression"], shard["pose"]
    mouth_open = shard["mouth_open"].numpy()
    # Pose is stored as offsets from each utterance's first frame: pairs stay within one utterance.
    utterance = np.zeros(T, dtype=int)
    for u, start in enumerate(shard["utterance_start"].tolist()):
        utterance[start:] = u
    portraits = [int(q * (T - 1)) for q in np.linspace(0.1, 0.9, PORTRAITS)]
    widest = np.argsort(-mouth_open)[: max(T // 4, DRIVES)]
    drives = np.unique(np.concatenate([rng.choice(T, DRIVES // 2, replace=False),
                                       rng.choice(widest, DRIVES // 2, replace=False)]))
    frame_at = lambda k: scaled(frames[min(int(source_frame[k]), len(frames) - 1)])  # noqa: E731

    # Measured lips of every drive frame (image px).
    topo = topology.render_topology()
    measured = {}
    for j in drives:
        try:
            face_j = analysis.analyse_portrait(to_tensor(frame_at(j)))
        except ValueError:
            continue
        measured[int(j)] = (analysis.image_landmarks(face_j)[:, :2].float(), frame_at(j))
    out = {k: [] for k in ("render", "source", "target", "opening", "lips", "paste", "gate", "fit", "width",
                           "portrait", "drive", "jaw_delta")}
    for i in portraits:
        try:
            face = analysis.analyse_portrait(to_tensor(frame_at(i)))
        except ValueError:
            continue
        r = renderer_mod.FlowRenderer(face, renderer_mod.RenderOptions(cpu_threads=1), torch.device("cpu"))
        js = [j for j in measured if j != i and utterance[j] == utterance[i] and float((pose[j, :3] - pose[i, :3]).abs().max()) < MAX_TURN]
        if not js:
            continue
        js_t = torch.tensor(js)
        expression = face.beta_0[None] + expr[js_t] - expr[i][None]
        drive_pose = pose[js_t] - pose[i][None]
        eyes = torch.zeros(len(js), 2)
        rgb, _ = r.render(expression, drive_pose, eyes)
        landmarks = geometry.drive_landmarks(face, expression, drive_pose, topo)
        vertices, _ = geometry.driven_vertices(geometry.close_eyelids(landmarks, eyes, topo), r.source, topo)
        rows = mn.lip_rows(vertices, topo)
        source_rows = mn.lip_rows(r.vertices, topo)
        affine, source_crop, opening, lips, paste = mn.mouth_crops(r.image, rows, source_rows)
        pixels = mn.crop_pixels(mn.CROP, "cpu")
        at_output = overlays.apply_affine(affine, pixels)  # [T, N, N, 2] output px
        x0, y0 = r.box[:2]
        render_crop = overlays.sample(rgb.permute(0, 3, 1, 2), at_output - torch.tensor([x0, y0]).float())
        moving = torch.cat([rows[n] for n in mn.LIP_ROWS], 1)
        still = torch.cat([source_rows[n] for n in mn.LIP_ROWS], 0)
        gate = mn.lip_gate(moving, still)
        driven_fit = fit_points(rows)  # [T, Q, 2]
        fit_idx = fit_points({n: getattr(topo, n.replace("_", "_lip_"))[:, None] for n in mn.LIP_ROWS})[:, 0]
        for k, j in enumerate(js):
            lm, real = measured[j]
            target_pts = lm[fit_idx][None]
            A = overlays.fit_affine(driven_fit[k:k + 1], target_pts)  # [1, 3, 2] render px -> real px
            fitted = driven_fit[k:k + 1] @ A[:, :2] + A[:, 2:]
            width = float((rows["outer_upper"][k, -1] - rows["outer_upper"][k, 0]).norm())
            err = float((fitted - target_pts).norm(dim=-1).pow(2).mean().sqrt()) / max(width, 1.0)
            if err > MAX_FIT_ERROR:
                continue
            real_t = to_tensor(real).permute(2, 0, 1)[None]
            target = overlays.sample(real_t, at_output[k:k + 1] @ A[:, :2] + A[:, 2:])[0]
            for name, value in (("render", render_crop[k]), ("source", source_crop[k]), ("target", target)):
                out[name].append((value.clamp(0, 1) * 255).round().byte().numpy())
            for name, value in (("opening", opening[k]), ("lips", lips[k]), ("paste", paste[k])):
                out[name].append((value * 255).round().byte().numpy())
            out["gate"].append(float(gate[k]))
            out["fit"].append(err)
            out["width"].append(width)
            out["portrait"].append(i)
            out["drive"].append(j)
            out["jaw_delta"].append(float(expr[j, 0] - expr[i, 0]))
    if not out["render"]:
        return None
    return {k: np.stack(v) if k in ("render", "source", "target", "opening", "lips", "paste") else np.array(v)
            for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("train", "val"), required=True)
    parser.add_argument("--out", default="/work/data/mouthnet")
    parser.add_argument("--limit", type=int, default=0, help="first N clips only (a quick look)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-per-speaker", type=int, default=3,
                        help="clips per speaker at most (VidTIMIT has ten of one person)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pack = load_pack()
    outdir = os.path.join(args.out, args.split)
    os.makedirs(outdir, exist_ok=True)
    shards = sorted(glob.glob(os.path.join(SHARDS, args.split, "*.safetensors")))
    per_speaker: dict = {}
    kept = []
    for path in shards:
        speaker = json.load(open(path.replace(".safetensors", ".json")))["speaker"]
        per_speaker[speaker] = per_speaker.get(speaker, 0) + 1
        if per_speaker[speaker] <= args.max_per_speaker:
            kept.append(path)
    shards = kept[: args.limit] if args.limit else kept
    total = 0
    for n, path in enumerate(shards):
        name = os.path.basename(path).replace(".safetensors", "")
        target = os.path.join(outdir, name + ".npz")
        if os.path.isfile(target):
            total += len(np.load(target)["gate"])
            continue
        start = time.time()
        pairs = clip_pairs(pack, path, np.random.default_rng(args.seed + n))
        if pairs is None:
            print(f"[{n + 1}/{len(shards)}] {name}: no pairs", flush=True)
            continue
        np.savez(target + ".partial.npz", **pairs)
        os.replace(target + ".partial.npz", target)
        total += len(pairs["gate"])
        print(f"[{n + 1}/{len(shards)}] {name}: {len(pairs['gate'])} pairs, fit err median "
              f"{np.median(pairs['fit']):.3f}, {time.time() - start:.0f} s (total {total})", flush=True)


if __name__ == "__main__":
    main()
