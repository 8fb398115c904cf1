"""Where a face's rigid-point jitter comes from: the default workflow's motion rendered again with parts of it
switched off, each through the gallery's encoder and meters (bench/gallery.py), beside two controls.

    OMP_NUM_THREADS=1 nice -n 10 python bench/jitter_parts.py --only grey_stubble,infant

Rows per face (jitter = mean rigid-point residual in IODs, as in the gallery):
- still: the source repeated, encoded (the gallery's baseline);
- rigid warp: the source moved by a pure similarity transform per frame (the pose track's roll, scale and
  shift at the face's centre): what any renderer that moves the head reads from resampling and encoding alone;
- zero motion: the renderer with the source expression, no pose, eyes open (must equal the still);
- pose only / expression only / blinks only: one part of the motion, the rest held at the source;
- no blinks: expression and pose, eyes open;
- full: the default workflow's motion (the gallery's figure);
- mouth on still: the still with only the mouth disc of "expression only" pasted in (mouth_on_still).
Also the mean artifact score of each row. Renders of third-party faces stay in --out, never in git.
"""
import argparse
import glob
import json
import math
import os
import sys
import tempfile

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))  # bench/ is sys.path[0] when a bench runs: siblings import
import gallery_meters as meters
import gallery_video as video
from gallery import SHARED, DEFAULT_AUDIO, Measured, _resize, crop_audio, load_portrait
from gallery_render import PACK_NAME, DefaultPipeline

ROOT = os.path.dirname(HERE)


def variants(motion, face, Motion):
    import torch

    T = motion.num_frames
    beta = face.beta_0.float().reshape(1, -1).repeat(T, 1)
    zero_pose, open_eyes = torch.zeros_like(motion.pose), torch.zeros_like(motion.eye_closure)
    make = lambda e, p, c: Motion(e, p, c, motion.fps, motion.space)  # noqa: E731
    return {"zero motion": make(beta, zero_pose, open_eyes),
            "pose only": make(beta, motion.pose, open_eyes),
            "expression only": make(motion.expression, zero_pose, open_eyes),
            "blinks only": make(beta, zero_pose, motion.eye_closure),
            "no blinks": make(motion.expression, motion.pose, open_eyes),
            "full": motion}


def rigid_warp(source: np.ndarray, landmarks: np.ndarray, pose: np.ndarray, crop_scale: float) -> np.ndarray:
    """The source moved per frame by the pose track's in-plane part (roll and shift) about the face centre."""
    cx, cy = landmarks.mean(0)
    out = []
    for _yaw, _pitch, roll, tx, ty, _tz in pose:
        M = cv2.getRotationMatrix2D((float(cx), float(cy)), -math.degrees(roll), 1.0)
        M[:, 2] += np.array([tx, ty]) * crop_scale
        out.append(cv2.warpAffine(source, M, (source.shape[1], source.shape[0]), flags=cv2.INTER_CUBIC,
                                  borderMode=cv2.BORDER_REFLECT))
    return np.stack(out)


def mouth_on_still(still: np.ndarray, rendered: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """The still with only a feathered disc around the mouth taken from `rendered` (expression only, no pose):
    every eye, nose and brow pixel is the still's own, so what the meter reads beyond the still comes from the
    landmark detector reacting to the mouth, not from anything that moves at the rigid points."""
    iod = float(np.linalg.norm(mesh[[33, 133]].mean(0) - mesh[[362, 263]].mean(0)))
    centre = mesh[[13, 14, 78, 308]].mean(0)
    yy, xx = np.mgrid[:still.shape[1], :still.shape[2]]
    r = np.hypot(xx - centre[0], yy - centre[1]) / iod
    alpha = np.clip((0.6 - r) / 0.1, 0, 1)[None, ..., None]  # 1 within 0.5 IOD, 0 beyond 0.6 (below the nose)
    return (still + alpha * (rendered.astype(np.float32) - still)).round().astype(np.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", required=True, help="comma-separated words of gallery face file names")
    parser.add_argument("--faces", default=os.path.join(SHARED, "faces"))
    parser.add_argument("--out", default="/work/out/jitter_parts")
    parser.add_argument("--max-side", type=int, default=1024)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    pipeline = DefaultPipeline(ROOT)
    from importlib import import_module

    render = import_module(f"{PACK_NAME}.modit.render.renderer")
    Motion = import_module(f"{PACK_NAME}.modit.types").Motion
    runner = pipeline.runner
    dface = meters.DlibFace()
    words = args.only.split(",")
    files = sorted(f for f in glob.glob(os.path.join(args.faces, "*")) if any(w in os.path.basename(f) for w in words))
    lines = ["| face | " + " | ".join(["still", "rigid warp", "zero motion", "pose only", "expression only",
                                        "blinks only", "no blinks", "full", "mouth on still"]) + " |",
             "|---" * 10 + "|"]
    with tempfile.TemporaryDirectory() as work:
        speech = crop_audio(DEFAULT_AUDIO, 4.0, work)
        for path in files:
            name = os.path.splitext(os.path.basename(path))[0]
            outdir = os.path.join(args.out, name)
            os.makedirs(outdir, exist_ok=True)
            image_path, source = load_portrait(path, args.max_side, work)
            graph = json.loads(json.dumps({i: n for i, n in pipeline.graph.items() if i != pipeline.render_node}))
            for node in graph.values():
                if node["class_type"] == "LoadImage":
                    node["inputs"]["image"] = os.path.abspath(image_path)
                if node["class_type"] == "LoadAudio":
                    node["inputs"]["audio"] = os.path.abspath(speech)
            face_node = next(i for i, n in graph.items() if n["class_type"] == "MoDiTExtract3DMM")
            outputs = runner.run_graph(graph, pipeline.pack.nodes.NODES, keep=(face_node,))
            face, motion = outputs[face_node][0], outputs[pipeline.motion_node][0]
            options = render.RenderOptions(flow_resolution=128)
            clips = {}
            T = motion.num_frames
            H, W = source.shape[0] // 2 * 2, source.shape[1] // 2 * 2
            clips["still"] = np.repeat(source[None, :H, :W], T, 0)
            crop_scale = float(np.linalg.norm(face.crop_to_image[:, 0].numpy()))
            mesh = face.landmarks[:, :2].double().numpy() @ face.crop_to_image[:, :2].numpy().T + face.crop_to_image[:, 2].numpy()
            clips["rigid warp"] = rigid_warp(source, mesh, motion.pose.numpy(), crop_scale)[:, :H, :W]
            for label, m in variants(motion, face, Motion).items():
                frames, _ = render.render_frames(face, m, options)
                clips[label] = (frames.float().clamp(0, 1) * 255).round().byte().numpy()[:, :H, :W]
            clips["mouth on still"] = mouth_on_still(clips["still"], clips["expression only"], mesh)
            row = {}
            still_frames = None
            for label, frames in clips.items():
                mp4 = os.path.join(outdir, label.replace(" ", "_") + ".mp4")
                video.encode(mp4, frames, 25.0)
                decoded, _ = video.decode(mp4)
                if still_frames is None:
                    still_frames = decoded
                    shape = dface.shape(np.ascontiguousarray(decoded[0]))
                    scale = meters.NORM_IOD / meters.inter_ocular(dface.points(shape))
                    ref = _resize(decoded[0], scale)
                    reference = (ref, dface.points(dface.shape(ref)))
                clip = Measured(dface, decoded, reference, scale, meters.NORM_IOD)
                row[label] = (float(clip.jitter.mean()), float(clip.artifact.mean()))
                print(f"{name:40s} {label:16s} jitter {row[label][0]:.4f} artifact {row[label][1]:.1f}",
                      file=sys.stderr, flush=True)
            lines.append(f"| {name} | " + " | ".join(f"{j:.4f} ({a:.1f})" for j, a in row.values()) + " |")
    print("jitter in IODs (artifact score in brackets)\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
