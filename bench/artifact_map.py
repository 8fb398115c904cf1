"""What the gallery's artifact meter flags on given frames of a gallery run: per frame, the source moved with the
head, the frame, and the frame with the new flat-dark (blue), step-edge (red) and hard-corner (green) pixels of the
mouth region painted in, 4x enlarged. To tell a real defect (a connected seam, notch or fill) from texture that
merely moved (isolated specks over a beard or stubble).

    python bench/artifact_map.py /work/out/gallery/<label>/<face> 0,42,99 /work/out/maps/<face>.png

Reads render.mp4 and still.mp4 of that folder (written by bench/gallery.py); writes a PNG (third-party faces: keep
it out of git).
"""
import os
import sys

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))  # bench/ is sys.path[0] when a bench runs: siblings import
import gallery_meters as meters
import gallery_video as video
from gallery import _resize

COLOURS = {"dark": (0, 0, 255), "step": (255, 0, 0), "corner": (0, 255, 0)}
ZOOM = 4


def flag_rows(folder: str, indices: list[int]) -> np.ndarray:
    face = meters.DlibFace()
    rendered, _ = video.decode(os.path.join(folder, "render.mp4"))
    still, _ = video.decode(os.path.join(folder, "still.mp4"))
    shape = face.shape(np.ascontiguousarray(still[0]))
    scale = meters.NORM_IOD / meters.inter_ocular(face.points(shape))
    reference = _resize(still[0], scale)
    reference_lm = face.points(face.shape(reference))
    rows = []
    for i in indices:
        frame = _resize(rendered[i], scale)
        found = face.shape(frame)
        landmarks = face.points(found) if found is not None else reference_lm
        region, maps, moved = meters.new_artifacts(frame, landmarks, reference, reference_lm)
        painted = frame.copy()
        for name, colour in COLOURS.items():
            painted[maps[name]] = colour
        parts = {name: 100.0 * maps[name].sum() / max(region.sum(), 1) for name in COLOURS}
        ys, xs = np.nonzero(region)
        box = (slice(ys.min(), ys.max()), slice(xs.min(), xs.max()))
        zoom = lambda image: cv2.resize(image[box], None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_NEAREST)  # noqa: E731
        row = np.concatenate([zoom(moved), zoom(frame), zoom(painted)], 1)
        text = f"#{i} " + " ".join(f"{name} {value:.1f}" for name, value in parts.items())
        cv2.putText(row, text, (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 0), 2)
        rows.append(row)
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows], 0)


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    folder, indices, out = sys.argv[1], [int(i) for i in sys.argv[2].split(",")], sys.argv[3]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    cv2.imwrite(out, cv2.cvtColor(flag_rows(folder, indices), cv2.COLOR_RGB2BGR))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
