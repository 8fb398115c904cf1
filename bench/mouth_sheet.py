"""Contact sheet of the flow renderer's mouth and eyes on one portrait (issue 15): source, zero motion, mouth
closed, half open, wide open, mid-blink with a head turn, and closed again after opening; full frames above,
the mouth enlarged below.

Run: python bench/mouth_sheet.py [--image samples/portrait.png] [--out docs/render_mouth_after.png]
Third-party faces (../shared/data/faces) may be rendered to a local folder, never committed.
"""
import argparse
import os

import numpy as np
import torch
from PIL import Image, ImageDraw

from _pack import load_pack
from portrait_image import load_portrait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABELS = ("source", "zero motion", "jaw closed", "half open", "wide open", "blink + turn", "closed again")


def sheet(image_path: str, tile: int = 256) -> Image.Image:
    from comfyui_modit.modit.face.analysis import analyse_portrait
    from comfyui_modit.modit.render.renderer import RenderOptions, render_frames
    from comfyui_modit.modit.types import Motion

    image = load_portrait(image_path, 512)
    face = analyse_portrait(image)
    beta = face.beta_0.float()
    expression = beta.repeat(6, 1)
    expression[:, 0] = torch.tensor([beta[0], 0.0, beta[0] + 0.45, beta[0] + 1.0, beta[0], 0.0])
    pose = torch.zeros(6, 6)
    pose[4, 0] = 0.12
    eyes = torch.zeros(6, 2)
    eyes[4] = 0.5
    frames, _ = render_frames(face, Motion(expression, pose, eyes, 25.0, face.space), RenderOptions())
    tiles = [image] + list(frames)
    m = face.crop_to_image.float()
    xy = face.landmarks[:, :2] @ m[:, :2].T + m[:, 2]
    mouth = xy[[61, 291, 0, 17, 152]]
    centre = mouth.mean(0)
    r = int(max((mouth.max(0).values - mouth.min(0).values).max() * 0.9, 40))
    H, W = image.shape[:2]
    x0, y0 = max(0, min(int(centre[0]) - r, W - 2 * r)), max(0, min(int(centre[1]) - r, H - 2 * r))
    as_image = lambda t: Image.fromarray((t.numpy() * 255).clip(0, 255).astype(np.uint8))  # noqa: E731
    height = round(tile * H / W)
    out = Image.new("RGB", (tile * len(tiles), height + tile + 16), "white")
    draw = ImageDraw.Draw(out)
    for k, t in enumerate(tiles):
        out.paste(as_image(t).resize((tile, height), Image.LANCZOS), (k * tile, 16))
        out.paste(as_image(t[y0:y0 + 2 * r, x0:x0 + 2 * r]).resize((tile, tile), Image.LANCZOS), (k * tile, 16 + height))
        draw.text((k * tile + 4, 2), LABELS[k], fill="black")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=os.path.join(ROOT, "samples", "portrait.png"))
    parser.add_argument("--out", default=os.path.join(ROOT, "output", "mouth_sheet.png"))
    parser.add_argument("--root", default=ROOT, help="pack checkout to render with (to compare versions)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_pack(root=args.root)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    sheet(args.image).save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
