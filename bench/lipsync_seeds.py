"""Do several training seeds of one DiT recipe follow unseen speakers better together than alone? (issue 14)

The DiT reads r 0.79 on the speakers it trained on and about 0.54 on unseen ones (bench/lipsync_proxy.py). If part of
that gap were the variance of one training run, runs of the same recipe with different seeds would err differently,
and two standard cures would gain: averaging their weights (a "soup": every run starts from the same v2 weights, so
they stay in one basin) and averaging their noise predictions at every sampling step (an ensemble, N x the DiT's
cost). This bench scores each checkpoint alone, their soup and their ensemble on the val shards with the proxy's map
and sampler (guidance, slow_noise 0, undo_guidance_gain as the node applies them).

    OMP_NUM_THREADS=1 python bench/lipsync_seeds.py RUN_SEED1 RUN_SEED2 ... --shards /work/data/real_wa [--seeds 3]
"""
import argparse
import os
import sys

import numpy as np
import torch

import lipsync_proxy as proxy  # bench/ is sys.path[0] when this file runs: siblings import


class Ensemble(torch.nn.Module):
    """Several MoDiTs as one eps_theta: the mean of their predictions. Data units (audio_units, beta_0_units, ...)
    come from the first: runs on the same shards share them exactly."""

    def __init__(self, models: list):
        super().__init__()
        self.members = torch.nn.ModuleList(models)
        self.config = models[0].config

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["members"][0], name)

    def forward(self, *args, **kwargs):
        return torch.stack([m(*args, **kwargs) for m in self.members]).mean(0)


def soup(models: list):
    """The first model with every floating tensor replaced by the mean over the models."""
    states = [m.state_dict() for m in models]
    mean = {k: torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else v
            for k, v in states[0].items()}
    models[0].load_state_dict(mean)
    return models[0]


def score(model, info, val, w, b, guidance: float, seeds: int) -> dict:
    schedule = proxy.NoiseSchedule(info.schedule)
    results = []
    for seed in range(seeds):
        options = proxy.SamplingOptions(num_steps=10, guidance_scale=guidance, phase_threshold=500, seed=seed,
                                        slow_noise=0.0, **proxy.checkpoint_bias(info.bias))
        sampled = [proxy.sample_expression(model, schedule, u["features"], u["beta_0"], options) for u in val]
        curves = [proxy.undo_guidance_gain(x, u["beta_0"], guidance, proxy.FPS, keep=(proxy.JAW_OPEN,)).numpy() @ w + b
                  for x, u in zip(sampled, val)]
        results.append(proxy.by_clip(val, curves))
    return {k: float(np.mean([r[k] for r in results])) for k in results[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="runs of one recipe that differ only in --seed")
    parser.add_argument("--shards", default="/work/data/real_wa")
    parser.add_argument("--guidance", type=float, default=2.5)
    parser.add_argument("--seeds", type=int, default=3, help="sampling seeds per score")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train = proxy.load_utterances(os.path.join(args.shards, "train"))
    val = proxy.load_utterances(os.path.join(args.shards, "val"))
    w, b = proxy.opening_map(train)
    load = lambda: [proxy.load_dit(p) for p in args.checkpoints]  # noqa: E731  fresh copies: soup() overwrites one
    def fmt(s: dict) -> str:
        return f"r0 {s['r0']:.3f}  r+-1 {s['r1']:.3f}  std x{s['std_ratio']:.2f}  >6Hz x{s['hf_ratio']:.2f}"

    for path, (model, info) in zip(args.checkpoints, load()):
        print(f"{os.path.basename(path):32s} {fmt(score(model.eval(), info, val, w, b, args.guidance, args.seeds))}",
              flush=True)
    loaded = load()
    info = loaded[0][1]
    ensemble = Ensemble([m.eval() for m, _ in loaded]).eval()
    print(f"{'ensemble of %d' % len(loaded):32s} {fmt(score(ensemble, info, val, w, b, args.guidance, args.seeds))}",
          flush=True)
    souped = soup([m for m, _ in load()]).eval()
    print(f"{'soup of %d' % len(loaded):32s} {fmt(score(souped, info, val, w, b, args.guidance, args.seeds))}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
