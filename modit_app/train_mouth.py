"""`python -m modit_app train-mouth`: train the learned mouth (modit/render/mouth_net.py) on self-reenactment crops.

    OMP_NUM_THREADS=1 python bench/mouthnet_data.py --split train     # crops -> /work/data/mouthnet/train
    OMP_NUM_THREADS=1 python bench/mouthnet_data.py --split val
    python -m modit_app train-mouth --data /work/data/mouthnet --out /work/out/mouthnet/mouth_net.safetensors \\
        --minutes 40 --threads 1

Loss, inside the paste mask only (outside it the render is kept): L1 between the refined crop (render + gated,
masked residual) and the real target, plus GRADIENT_WEIGHT x L1 between their horizontal and vertical differences
(keeps edges: lips, teeth). No perceptual network, nothing downloaded. Augmentation: mirror, and one random colour
gain per pair applied to render, source and target alike (the gallery's lighting and skin tones differ from the
clips'). Every --eval-every steps it prints the validation L1 of the procedural render and of the refined one
(validation speakers only; the training split never sees them) and writes the checkpoint.

`--adversarial W` (with `--init` an L1-trained net) adds W x a hinge GAN loss from a small patch critic that sees the
mouth crop and the driven opening: L1 alone regresses to the average of teeth, tongue and dark cavity, a grey-pink
haze; the critic penalises what no real mouth looks like. The critic is training-only; the shipped net is the same
MouthNet. A critic's verdict is not a validation figure, so with W > 0 the last checkpoint is written, not the one of
the lowest validation L1 (that would be the --init net).
"""
import argparse
import glob
import logging
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from ..modit.checkpoints import save_checkpoint
from ..modit.render.mouth_net import CROP, FEATHER, GATE_PX, SPAN, WIDTHS, MouthNet, MouthRefiner, net_inputs

log = logging.getLogger(__name__)

GRADIENT_WEIGHT = 0.5
CLIP_NORM = 0.5  # gradient norm clip: one bad batch must not throw the net into saturation
TERMS = ("research use only: trained on real talking-head clips gathered from public research repositories "
         "(HDTF, VoxCeleb2, LRS2 / BBC, MEAD, VidTIMIT, GRID footage; see modit/train/real/manifest); do not use "
         "commercially or redistribute outside those terms")
IMAGES = ("render", "source", "target")
MASKS = ("opening", "lips", "paste")


def load_crops(folder: str) -> dict:
    """All pairs of a split folder (bench/mouthnet_data.py's .npz files), uint8 tensors plus gate / clip ids."""
    parts = {k: [] for k in (*IMAGES, *MASKS, "gate", "clip")}
    files = sorted(glob.glob(os.path.join(folder, "*.npz")))
    if not files:
        raise FileNotFoundError(f"{folder}: no crops; run bench/mouthnet_data.py --split {os.path.basename(folder)}")
    for n, path in enumerate(files):
        data = np.load(path)
        for k in (*IMAGES, *MASKS):
            parts[k].append(torch.from_numpy(data[k]))
        parts["gate"].append(torch.from_numpy(data["gate"]).float())
        parts["clip"].append(torch.full((len(data["gate"]),), n))
    out = {k: torch.cat(v) for k, v in parts.items()}
    out["files"] = [os.path.basename(f) for f in files]
    return out


def batch_tensors(crops: dict, idx: torch.Tensor, generator: torch.Generator | None = None) -> dict:
    """Float batch: images [B, N, N, 3] and masks [B, N, N] in 0..1, gate [B]; augmented when a generator is given."""
    batch = {k: crops[k][idx].float() / 255.0 for k in (*IMAGES, *MASKS)}
    batch["gate"] = crops["gate"][idx]
    if generator is not None:
        flip = torch.rand(len(idx), generator=generator) < 0.5
        for k in (*IMAGES, *MASKS):
            batch[k][flip] = batch[k][flip].flip(2)
        gain = 1.0 + 0.2 * (2 * torch.rand(len(idx), 1, 1, 3, generator=generator) - 1)
        level = 1.0 + 0.25 * (2 * torch.rand(len(idx), 1, 1, 1, generator=generator) - 1)
        for k in IMAGES:
            batch[k] = (batch[k] * gain * level).clamp(0, 1)
    return batch


def paste_weight(batch: dict) -> torch.Tensor:
    """[B, N, N, 1]: where a refinement replaces the render, the paste mask gated by lip motion."""
    return (batch["paste"] * batch["gate"][:, None, None])[..., None]


def refined(net: MouthNet, batch: dict) -> torch.Tensor:
    """[B, N, N, 3]: the render crop plus the net's residual inside the paste mask, gated by lip motion (not
    clamped to 0..1 here: a clamp has no gradient where it bites; the renderer clamps)."""
    x = net_inputs(batch["render"], batch["source"], batch["opening"], batch["lips"])
    return batch["render"] + paste_weight(batch) * net(x).permute(0, 2, 3, 1)


def masked_l1(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean |image - target| per channel over the mask [B, N, N] (weights), images [B, N, N, 3]."""
    weight = mask[..., None]
    return ((image - target).abs() * weight).sum() / (3 * weight.sum()).clamp_min(1e-6)


def mouth_loss(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """masked L1 + GRADIENT_WEIGHT x masked L1 of the horizontal and vertical differences."""
    loss = masked_l1(image, target, mask)
    for dim in (1, 2):
        d_img, d_tgt = image.diff(dim=dim), target.diff(dim=dim)
        m = torch.minimum(mask.narrow(dim, 0, mask.shape[dim] - 1), mask.narrow(dim, 1, mask.shape[dim] - 1))
        loss = loss + 0.5 * GRADIENT_WEIGHT * masked_l1(d_img, d_tgt, m)
    return loss


class PatchCritic(torch.nn.Module):
    """Training-only critic: [B, 5, N, N] (mouth crop rgb, driven opening, paste mask) -> [B, 1, N/8, N/8] patch
    scores, real high. Spectral norm keeps it from overpowering a 228k-parameter generator."""

    def __init__(self, width: int = 32):
        super().__init__()
        sn = torch.nn.utils.parametrizations.spectral_norm
        layers, ins = [], 5
        for out in (width, 2 * width, 4 * width):
            layers += [sn(torch.nn.Conv2d(ins, out, 4, stride=2, padding=1)), torch.nn.LeakyReLU(0.2)]
            ins = out
        layers.append(sn(torch.nn.Conv2d(ins, 1, 3, padding=1)))
        self.net = torch.nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, batch: dict) -> torch.Tensor:
        x = torch.cat([image, batch["opening"][..., None], batch["paste"][..., None]], -1).permute(0, 3, 1, 2)
        return self.net(x)


def critic_weight(batch: dict, size: int) -> torch.Tensor:
    """[B, 1, size, size] the paste mask pooled to the critic's patches: only patches on the mouth count."""
    return torch.nn.functional.adaptive_avg_pool2d(batch["paste"][:, None], size)


def real_composite(batch: dict) -> torch.Tensor:
    """The real target inside the paste mask, the render outside it: what a perfect refinement would be, so the
    critic cannot tell real from refined by anything outside the mouth."""
    return batch["render"] + paste_weight(batch) * (batch["target"] - batch["render"])


def weighted_mean(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (x * weight).sum() / weight.sum().clamp_min(1e-6)


@torch.no_grad()
def evaluate(net: MouthNet, crops: dict, batch_size: int = 64) -> dict:
    """Validation L1 (0..1 per channel) of the procedural render and the refined crop to the real target: inside
    the paste mask ("procedural", "learned") and inside the driven opening only ("..._opening")."""
    net.eval()
    sums = {k: 0.0 for k in ("procedural", "learned", "mask", "procedural_opening", "learned_opening", "opening")}
    for start in range(0, len(crops["gate"]), batch_size):
        batch = batch_tensors(crops, torch.arange(start, min(start + batch_size, len(crops["gate"]))))
        out = refined(net, batch).clamp(0, 1)
        for mask, suffix in (("paste", ""), ("opening", "_opening")):
            weight = batch[mask][..., None]
            sums["procedural" + suffix] += float(((batch["render"] - batch["target"]).abs() * weight).sum())
            sums["learned" + suffix] += float(((out - batch["target"]).abs() * weight).sum())
            sums[mask if mask == "opening" else "mask"] += 3 * float(weight.sum())
    net.train()
    return {"procedural": sums["procedural"] / sums["mask"], "learned": sums["learned"] / sums["mask"],
            "procedural_opening": sums["procedural_opening"] / max(sums["opening"], 1e-6),
            "learned_opening": sums["learned_opening"] / max(sums["opening"], 1e-6)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modit_app train-mouth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="/work/data/mouthnet", help="folder with train/ and val/ crops")
    parser.add_argument("--out", required=True, help="checkpoint to write (.safetensors)")
    parser.add_argument("--minutes", type=float, default=40.0, help="wall-clock training budget")
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: only --minutes)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", help="start from this MouthNet checkpoint (an L1-trained net)")
    parser.add_argument("--adversarial", type=float, default=0.0,
                        help="weight of the patch critic's hinge loss (0: the L1 recipe alone)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = load_crops(os.path.join(args.data, "train"))
    val = load_crops(os.path.join(args.data, "val"))
    overlap = set(train["files"]) & set(val["files"])
    if overlap:
        raise ValueError(f"train and val share clips {sorted(overlap)}; rebuild the crops from the speaker split")
    log.info("train %d pairs (%d clips), val %d pairs (%d clips)", len(train["gate"]), len(train["files"]),
             len(val["gate"]), len(val["files"]))
    net = MouthRefiner.load(args.init).net.train() if args.init else MouthNet()  # a wrong file is named
    optimiser = torch.optim.Adam(net.parameters(), lr=args.lr)
    critic = PatchCritic() if args.adversarial > 0 else None
    critic_optimiser = torch.optim.Adam(critic.parameters(), lr=2 * args.lr, betas=(0.5, 0.999)) if critic else None
    generator = torch.Generator().manual_seed(args.seed)
    budget = args.minutes * 60
    start, step, history, critic_history = time.time(), 0, [], []
    metadata = {"crop": CROP, "span": SPAN, "feather": FEATHER, "gate_px": list(GATE_PX), "widths": list(WIDTHS),
                "license": TERMS, "data_terms": TERMS, "display_name": "learned (research use)",
                "real_data": {"train_clips": train["files"], "val_clips": val["files"],
                              "train_pairs": len(train["gate"]), "val_pairs": len(val["gate"]),
                              "command": "python -m modit_app train-mouth " + " ".join(argv or [])}}

    if critic:
        metadata.update(adversarial=args.adversarial, init=os.path.basename(args.init or ""))

    def keep_best(figures: dict, best: tuple) -> tuple:
        """Write the checkpoint when the validation L1 is the best so far (a late divergence never overwrites
        a good net), or every time with a critic; returns (best L1, its metadata)."""
        if figures["learned"] >= best[0] and not critic:
            return best
        metadata.update(steps=step, val_l1=figures)
        save_checkpoint(args.out, {k: v.half() for k, v in net.state_dict().items()}, metadata)
        return figures["learned"], dict(metadata)

    figures = evaluate(net, val)
    log.info("step 0: val L1 procedural %.4f learned %.4f", figures["procedural"], figures["learned"])
    best = keep_best(figures, (float("inf"), {}))
    while True:
        elapsed = time.time() - start
        if elapsed > budget or (args.steps and step >= args.steps):
            break
        lr = args.lr * 0.5 * (1 + math.cos(math.pi * min(elapsed / budget, 1.0)))
        for group in optimiser.param_groups:
            group["lr"] = lr
        idx = torch.randint(0, len(train["gate"]), (args.batch_size,), generator=generator)
        batch = batch_tensors(train, idx, generator)
        image = refined(net, batch)
        loss = mouth_loss(image, batch["target"], batch["paste"])
        if critic:
            fake, real = image.clamp(0, 1), real_composite(batch)
            scores_fake, scores_real = critic(fake.detach(), batch), critic(real, batch)
            weight = critic_weight(batch, scores_fake.shape[-1])
            critic_loss = weighted_mean(F.relu(1 - scores_real) + F.relu(1 + scores_fake), weight)
            critic_optimiser.zero_grad()
            critic_loss.backward()
            critic_optimiser.step()
            fooled = weighted_mean(critic(fake, batch), weight)
            critic_history.append((critic_loss.item(), fooled.item()))
            loss = loss - args.adversarial * fooled
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), CLIP_NORM)
        optimiser.step()
        history.append(loss.item())
        step += 1
        if step % 100 == 0:
            log.info("step %d  loss %.4f  lr %.2e  %.0f s", step, np.mean(history[-100:]), lr, time.time() - start)
            if critic:
                recent = np.mean(critic_history[-100:], 0)
                log.info("  critic hinge %.3f, its score of the refined mouth %.3f", *recent)
        if step % args.eval_every == 0:
            figures = evaluate(net, val)
            log.info("step %d: val L1 procedural %.4f learned %.4f (opening: %.4f, %.4f)", step,
                     figures["procedural"], figures["learned"], figures["procedural_opening"],
                     figures["learned_opening"])
            best = keep_best(figures, best)
    best = keep_best(evaluate(net, val), best)
    log.info("wrote %s: step %d, val L1 procedural %.4f learned %.4f", args.out, best[1]["steps"],
             best[1]["val_l1"]["procedural"], best[1]["val_l1"]["learned"])
    return 0
