"""The learned mouth against the procedural one on VALIDATION speakers (never trained on; issue 15 item 4).

    OMP_NUM_THREADS=1 nice -n 10 python bench/mouthnet_eval.py --weights modit/weights/mouth_net_real.safetensors

1. Crops (/work/data/mouthnet/val, bench/mouthnet_data.py): L1 to the real target inside the paste mask (0..1 per
   channel), procedural and learned, overall and per clip; a contact sheet of pairs (source mouth | procedural |
   learned | real target), the widest openings first.
2. Full frames: each validation clip's portrait (the frame at 10 % of the clip) driven by every 4th frame's measured
   motion (same utterance, head turned < 0.15 rad from the portrait's), rendered procedural and learned; dlib
   identity distance of each rendered frame to the portrait (and of the real frames, for scale); a sheet of the
   face (real | procedural | learned) at the widest openings.

Everything is written to --out (default /work/out/mouthnet/eval), never into the repository: third-party faces.
"""
import argparse
import glob
import json
import os
from importlib import import_module

import cv2
import numpy as np
import torch
from _pack import load_pack
from gallery_video import decode

SHARDS = "/work/data/real/shards/val"
TALKING = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared", "data",
                       "talking")


def pm(name):
    return import_module(f"{load_pack().__name__}.{name}")


def crop_figures(refiner, data: str, out: str) -> dict:
    train_mouth = pm("modit_app.train_mouth")
    crops = train_mouth.load_crops(os.path.join(data, "val"))
    overall = train_mouth.evaluate(refiner.net, crops)
    per_clip = {}
    for n, name in enumerate(crops["files"]):
        idx = torch.nonzero(crops["clip"] == n)[:, 0]
        sub = {k: crops[k][idx] for k in (*train_mouth.IMAGES, *train_mouth.MASKS, "gate")}
        per_clip[name.replace(".npz", "")] = train_mouth.evaluate(refiner.net, sub)
    # Sheet: the 12 widest openings (by jaw change) and 12 at random, across clips.
    jaw = np.concatenate([np.load(f)["jaw_delta"] for f in sorted(glob.glob(os.path.join(data, "val", "*.npz")))])
    rng = np.random.default_rng(0)
    pick = list(np.argsort(-jaw)[:12]) + list(rng.choice(len(jaw), 12, replace=False))
    batch = train_mouth.batch_tensors(crops, torch.tensor(pick))
    with torch.no_grad():
        learned = train_mouth.refined(refiner.net, batch)
    rows = [np.concatenate([batch[k][i].numpy() for k in ("source", "render")] + [learned[i].numpy(),
                                                                                  batch["target"][i].numpy()], 1)
            for i in range(len(pick))]
    sheet = np.concatenate([np.concatenate(rows[r:r + 6], 0) for r in range(0, len(rows), 6)], 1)
    sheet = cv2.resize((sheet * 255).round().astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(os.path.join(out, "val_crops.png"), sheet[..., ::-1])
    return {"overall": overall, "per_clip": per_clip, "pairs": len(jaw)}


def frame_figures(refiner, out: str, clips: int, every: int) -> dict:
    from safetensors.torch import load_file

    meters = import_module("gallery_meters")
    analysis = pm("modit.face.analysis")
    rmod = pm("modit.render.renderer")
    types = pm("modit.types")
    dlib_face = meters.DlibFace()
    results = {}
    for path in sorted(glob.glob(os.path.join(SHARDS, "*.safetensors")))[:clips]:
        info = json.load(open(path.replace(".safetensors", ".json")))
        shard = load_file(path)
        frames, _ = decode(os.path.join(TALKING, info["source_file"]))
        scale = min(1.0, 512 / max(frames.shape[1:3]))
        at = lambda k: cv2.resize(frames[min(int(shard["source_frame"][k]), len(frames) - 1)], None, fx=scale,  # noqa
                                  fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else \
            frames[min(int(shard["source_frame"][k]), len(frames) - 1)]
        T = len(shard["source_frame"])
        i = int(0.1 * (T - 1))
        utt = np.zeros(T, dtype=int)
        for u, s in enumerate(shard["utterance_start"].tolist()):
            utt[s:] = u
        pose, expr = shard["pose"], shard["expression"]
        js = [j for j in range(0, T, every) if j != i and utt[j] == utt[i]
              and float((pose[j, :3] - pose[i, :3]).abs().max()) < 0.15]
        portrait = at(i)
        face = analysis.analyse_portrait(torch.from_numpy(portrait).float() / 255)
        js_t = torch.tensor(js)
        motion = types.Motion(expression=face.beta_0[None] + expr[js_t] - expr[i][None],
                              pose=pose[js_t] - pose[i][None], eye_closure=torch.zeros(len(js), 2), fps=25.0,
                              space=face.space)
        renders = {}
        for kind, net in (("procedural", None), ("learned", refiner)):
            frames_t, _ = rmod.render_frames(face, motion, rmod.RenderOptions(mouth_net=net))
            renders[kind] = (frames_t.clamp(0, 1) * 255).round().byte().numpy()
        renders["real"] = np.stack([at(j) for j in js])
        src_shape = dlib_face.shape(portrait)
        if src_shape is None:
            continue
        src_desc = dlib_face.descriptor(portrait, src_shape)
        ids = {}
        for kind, stack in renders.items():
            d = []
            for image in stack:
                shape = dlib_face.shape(np.ascontiguousarray(image))
                d.append(np.nan if shape is None else
                         float(np.linalg.norm(dlib_face.descriptor(np.ascontiguousarray(image), shape) - src_desc)))
            ids[kind] = {"mean": float(np.nanmean(d)), "max": float(np.nanmax(d))}
        name = info["name"]
        results[name] = {"frames": len(js), "identity": ids}
        # Sheet: real | procedural | learned at the four widest drive openings, face region.
        lm = analysis.image_landmarks(face)[:, :2].numpy()
        x0, y0 = np.maximum(lm.min(0) - 0.1 * (lm.max(0) - lm.min(0)), 0).astype(int)
        x1, y1 = (lm.max(0) + 0.1 * (lm.max(0) - lm.min(0))).astype(int)
        order = np.argsort(-(expr[js_t, 0] - expr[i, 0]).numpy())[:4]
        tiles = [np.concatenate([renders[k][t][y0:y1, x0:x1] for k in ("real", "procedural", "learned")], 1)
                 for t in order]
        sheet = np.concatenate(tiles, 0)
        zoom = max(1.0, 720 / sheet.shape[1])
        sheet = cv2.resize(sheet, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(os.path.join(out, f"val_frames_{name}.png"), sheet[..., ::-1])
        print(name, results[name], flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", default="/work/data/mouthnet")
    parser.add_argument("--out", default="/work/out/mouthnet/eval")
    parser.add_argument("--clips", type=int, default=10, help="validation clips rendered in full frames")
    parser.add_argument("--every", type=int, default=4, help="every n-th frame drives the portrait")
    parser.add_argument("--no-frames", action="store_true", help="crops only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    refiner = pm("modit.render.mouth_net").MouthRefiner.load(args.weights)
    report = {"crops": crop_figures(refiner, args.data, args.out)}
    o = report["crops"]["overall"]
    print(f"val crops ({report['crops']['pairs']} pairs): L1 procedural {o['procedural']:.4f} learned "
          f"{o['learned']:.4f}; inside the opening procedural {o['procedural_opening']:.4f} learned "
          f"{o['learned_opening']:.4f}", flush=True)
    for name, f in report["crops"]["per_clip"].items():
        print(f"  {name}: procedural {f['procedural']:.4f} learned {f['learned']:.4f} (opening "
              f"{f['procedural_opening']:.4f}, {f['learned_opening']:.4f})")
    if not args.no_frames:
        report["frames"] = frame_figures(refiner, args.out, args.clips, args.every)
        for kind in ("real", "procedural", "learned"):
            means = [r["identity"][kind]["mean"] for r in report["frames"].values()]
            maxes = [r["identity"][kind]["max"] for r in report["frames"].values()]
            print(f"identity to the portrait, {kind}: mean {np.mean(means):.3f}, worst clip max {np.max(maxes):.3f}")
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
