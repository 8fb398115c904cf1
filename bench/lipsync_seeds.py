"""Do several training seeds of one DiT recipe follow unseen speakers better together than alone? (issue 14)

The DiT reads r 0.79 on the speakers it trained on and about 0.54 on unseen ones (bench/lipsync_proxy.py). If part of
that gap were the variance of one training run, runs of the same recipe with different seeds would err differently,
and two standard cures would gain: averaging their weights (a "soup": every run starts from the same v2 weights, so
they stay in one basin) and averaging their noise predictions at every sampling step (an ensemble, N x the DiT's
cost). This bench scores each checkpoint alone, their soup and their ensemble on the val shards with the proxy's map
and sampler (guidance, slow_noise 0, take_back_guidance as the node applies them).

    OMP_NUM_THREADS=1 python bench/lipsync_seeds.py RUN_SEED1 RUN_SEED2 ... --shards /work/data/real_wa [--seeds 3]
"""
import argparse
import os
import sys

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
    figures = lambda model, info: proxy.summary(proxy.score(  # noqa: E731  as the workflows sample: slow_noise 0
        model.eval(), info, val, w, b, args.guidance, args.seeds, slow_noise=0.0))
    for path, (model, info) in zip(args.checkpoints, load()):
        print(f"{os.path.basename(path):32s} {figures(model, info)}", flush=True)
    loaded = load()
    print(f"{'ensemble of %d' % len(loaded):32s} {figures(Ensemble([m for m, _ in loaded]), loaded[0][1])}", flush=True)
    print(f"{'soup of %d' % len(loaded):32s} {figures(soup([m for m, _ in load()]), loaded[0][1])}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
