"""How much of each expression channel the renderer shows, as the face stack reads it back (issue 14 and 15).

Every channel k in turn is driven around the portrait's own beta_0 by a sine of amplitude 0.3 (10 frames, pose
still, eyes open); the rendered frames are measured by the same tracker that turned the real clips into training
data (modit/data/tracking.py), and the gain is the slope of the read-back channel k against the driven one. A gain
of 1 means a coefficient rendered and re-measured comes back as itself; below 1 the renderer shows less of that
movement than the tracker reads in real video for the same coefficient (or the tracker cannot see it).

    OMP_NUM_THREADS=2 python bench/render_gain.py ../shared/data/faces/young_woman_bangs_smile_teeth.jpg ...

Prints one row per portrait and the mean. Reads the portraits given; writes nothing.
"""
import argparse
import sys

import numpy as np
import torch

from _pack import load_pack  # bench/ is sys.path[0] when this file runs: siblings import
from portrait_image import load_portrait

load_pack()
from comfyui_modit.modit.data.tracking import FaceTracker  # noqa: E402
from comfyui_modit.modit.face.analysis import analyse_portrait  # noqa: E402
from comfyui_modit.modit.face.components import COMPONENT_NAMES  # noqa: E402
from comfyui_modit.modit.render.renderer import RenderOptions, render_frames  # noqa: E402
from comfyui_modit.modit.types import Motion  # noqa: E402

AMPLITUDE = 0.3
FRAMES = 10
MAX_SIDE = 512


def channel_gains(image: torch.Tensor) -> np.ndarray:
    """[K] slope of the re-measured channel against the driven one, each channel driven on its own."""
    face = analyse_portrait(image)
    driven = AMPLITUDE * np.sin(np.linspace(0, 2 * np.pi, FRAMES, endpoint=False))
    gains = []
    for k in range(face.beta_0.shape[0]):
        expression = face.beta_0.float().repeat(FRAMES, 1)
        expression[:, k] += torch.from_numpy(driven).float()
        motion = Motion(expression, torch.zeros(FRAMES, 6), torch.zeros(FRAMES, 2), 25.0, face.space)
        frames, _ = render_frames(face, motion, RenderOptions())
        tracker = FaceTracker()
        measured = np.array([tracker.measure(frame.float()).expression[k] for frame in frames])
        gains.append(np.polyfit(driven, measured, 1)[0])
    return np.array(gains)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("portraits", nargs="+")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"{'portrait':32s} " + " ".join(f"{n[:7]:>7s}" for n in COMPONENT_NAMES))
    rows = []
    for path in args.portraits:
        rows.append(channel_gains(load_portrait(path, MAX_SIDE)))
        print(f"{path.split('/')[-1][:32]:32s} " + " ".join(f"{g:7.2f}" for g in rows[-1]), flush=True)
    print(f"{'mean':32s} " + " ".join(f"{g:7.2f}" for g in np.mean(rows, 0)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
