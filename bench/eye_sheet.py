"""Close-ups of the renderer's eyelids (issue 15): for each portrait, the source's eyes and the same eyes with the
lids lowered to 30 %, 60 %, 100 % and back open, enlarged so the lid's skin, its margin and the lashes can be judged.

Run: python bench/eye_sheet.py [--only glasses,woman] [--out /work/out/eye_sheet.png]
The gallery's faces are third-party: write their sheets to a local folder, never commit them.
"""
import argparse
import os

import numpy as np
import torch
from PIL import Image, ImageDraw

from _pack import load_pack
from portrait_image import load_portrait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
CLOSURES = (0.0, 0.3, 0.6, 1.0)
# MediaPipe mesh: outer and inner corners of both eyes, and points on the brows, to frame the close-up.
EYE_FRAME = (33, 133, 362, 263, 70, 300, 105, 334)


def eye_strip(image_path: str, tile: int = 150, max_side: int = 1024) -> Image.Image:
    from comfyui_modit.modit.face.analysis import analyse_portrait
    from comfyui_modit.modit.render.renderer import RenderOptions, render_frames
    from comfyui_modit.modit.types import Motion

    image = load_portrait(image_path, max_side)
    face = analyse_portrait(image)
    T = len(CLOSURES)
    expression = face.beta_0.float().repeat(T, 1)
    eyes = torch.tensor(CLOSURES, dtype=torch.float32)[:, None].repeat(1, 2)
    frames, _ = render_frames(face, Motion(expression, torch.zeros(T, 6), eyes, 25.0, face.space), RenderOptions())
    m = face.crop_to_image.float()
    xy = face.landmarks[:, :2] @ m[:, :2].T + m[:, 2]
    frame = xy[list(EYE_FRAME)]
    lo, hi = frame.min(0).values, frame.max(0).values
    pad = 0.15 * (hi[0] - lo[0])
    H, W = image.shape[:2]
    x0, x1 = int(max(lo[0] - pad, 0)), int(min(hi[0] + pad, W))
    y0, y1 = int(max(lo[1] - pad, 0)), int(min(hi[1] + 2 * pad, H))
    height = max(1, round(tile * 2 * (y1 - y0) / max(x1 - x0, 1)))
    as_image = lambda t: Image.fromarray((t.numpy() * 255).clip(0, 255).astype(np.uint8))  # noqa: E731
    tiles = [image] + list(frames)
    out = Image.new("RGB", (2 * tile * len(tiles), height + 16), "white")
    draw = ImageDraw.Draw(out)
    for k, t in enumerate(tiles):
        out.paste(as_image(t[y0:y1, x0:x1]).resize((2 * tile, height), Image.LANCZOS), (2 * k * tile, 16))
        label = "source" if k == 0 else f"lids {CLOSURES[k - 1]:.1f}"
        draw.text((2 * k * tile + 4, 2), f"{os.path.basename(image_path)[:40]}  {label}", fill="black")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", default=os.path.join(SHARED, "faces"))
    parser.add_argument("--only", help="comma-separated words: faces whose file name contains one")
    parser.add_argument("--image", action="append",
                        help="a portrait file (repeatable; with --only, added to those faces)")
    parser.add_argument("--out", default="/work/out/eye_sheet.png")
    parser.add_argument("--root", default=ROOT, help="pack checkout to render with (to compare versions)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_pack(root=args.root)
    paths = list(args.image or [])
    if args.only or not paths:
        words = args.only.split(",") if args.only else None
        paths += sorted(os.path.join(args.faces, n) for n in os.listdir(args.faces)
                        if n.lower().endswith((".jpg", ".jpeg", ".png")) and (not words or any(w in n for w in words)))
    strips = [eye_strip(p) for p in paths]
    sheet = Image.new("RGB", (max(s.width for s in strips), sum(s.height for s in strips)), "white")
    y = 0
    for s in strips:
        sheet.paste(s, (0, y))
        y += s.height
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    sheet.save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
