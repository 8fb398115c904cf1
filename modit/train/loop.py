"""The training loop (paper §3.5): DDPM noise prediction with L = 10 L_t + 0.1 L_v (+ 0.1 L_lks), EMA, DDP.

One step (for a batch of windows X_0 [B, L, K] with audio A [B, L, D] and beta_0 [B, K]):
  1. t ~ U{0..num_train_steps-1}, eps ~ N(0, I), X_t = sqrt(alpha_bar_t) X_0 + sqrt(1 - alpha_bar_t) eps  (eq. 2)
  2. drop the audio condition with probability config.audio_dropout (classifier-free guidance)
  3. M = phase_bias(t, t_T): the same bias Algorithm 1 will inject at sampling time, so that the network is
     trained on the attention it will see (M_D + M_E for t < t_T, M_E otherwise)
  4. eps_theta = network(X_t, t, A, beta_0, M); X^_0 from eps_theta; L_t (eq. 3), L_v (eq. 7), optional L_lks

Runs on the CPU, one GPU, or several through torchrun (DistributedDataParallel when WORLD_SIZE > 1; each rank
draws its own batches from seed + rank, rank 0 writes the checkpoint). The checkpoint holds the EMA weights;
a side file `<out>.train.pt` keeps the raw weights, optimiser state and step for --resume.
"""
import copy
import logging
import math
import os
import time
from dataclasses import dataclass

import torch

from ..dit.bias_injection import DEFAULT_SPREAD, DEFAULT_WIDTH, phase_bias
from ..dit.checkpoint import DEFAULT_PHASE_THRESHOLD, DiTInfo, load_dit, save_dit
from ..dit.model import MoDiT
from ..dit.presets import build_config
from ..dit.schedule import NoiseSchedule, ScheduleConfig
from .data import Batch, ShardDataset
from .losses import LOSS_WEIGHTS, landmark_loss, noise_loss, velocity_loss

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    steps: int = 1000  # total optimiser steps (a resumed run continues up to this number)
    batch_size: int = 64  # windows per step per rank
    learning_rate: float = 3e-4
    warmup_steps: int = 100  # linear warm-up, then cosine decay to 10 % of the rate
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 50
    save_every: int = 1000
    phase_threshold: int = DEFAULT_PHASE_THRESHOLD  # t_T of Algorithm 1, also used at training time
    bias_width: int = DEFAULT_WIDTH
    bias_spread: float = DEFAULT_SPREAD


def diffusion_losses(model, schedule: NoiseSchedule, batch: Batch, generator: torch.Generator,
                     options: TrainOptions, decode=None) -> dict:
    """One forward pass and its losses; batch in the network's normalised units, on the model's device."""
    x0, audio, beta_0, mask = batch.expression, batch.audio, batch.beta_0, batch.mask
    B, L, K = x0.shape
    device = x0.device
    config = model.module.config if hasattr(model, "module") else model.config
    t = torch.randint(0, schedule.num_train_steps, (B,), generator=generator).to(device)  # [B]
    eps = torch.randn(x0.shape, generator=generator).to(device)  # [B, L, K]
    drop_audio = (torch.rand(B, generator=generator) < config.audio_dropout).to(device)  # [B]
    x_t = schedule.add_noise(x0, eps, t)  # eq. 2
    bias = phase_bias(t, options.phase_threshold, L, options.bias_width, options.bias_spread, device=device)
    eps_pred = model(x_t, t, audio, beta_0, bias, drop_audio)  # [B, L, K]
    alpha_bar = schedule.alpha_bar(t, x0).reshape(B)  # [B]
    pred_x0 = schedule.predict_x0(x_t, eps_pred, t)
    losses = {"noise": noise_loss(eps_pred, eps, mask),
              "velocity": velocity_loss(pred_x0, x0, mask, weight=alpha_bar)}
    if decode is not None:
        losses["landmark"] = landmark_loss(pred_x0, x0, mask, decode, weight=alpha_bar)
    losses["total"] = sum(LOSS_WEIGHTS[name] * value for name, value in losses.items())
    return losses


def _normalize(model: MoDiT, batch: Batch) -> Batch:
    """Raw batch -> network units (the dataset already removed per-utterance audio means where the config asks)."""
    return Batch(audio=model.normalize_audio(batch.audio), expression=model.motion_units(batch.expression, batch.beta_0),
                 beta_0=model.beta_0_units(batch.beta_0), mask=batch.mask)


def _learning_rate(options: TrainOptions, step: int) -> float:
    if step < options.warmup_steps:
        return options.learning_rate * (step + 1) / options.warmup_steps
    progress = (step - options.warmup_steps) / max(options.steps - options.warmup_steps, 1)
    return options.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def _distributed():
    """(rank, world_size, local_rank) from torchrun's environment; initialises the process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def train(dataset: ShardDataset, preset: str, out: str, options: TrainOptions, device: str = "cpu",
          resume: bool = False, schedule_config: ScheduleConfig = ScheduleConfig(), decode=None,
          config_overrides: dict | None = None, on_step=None, init: str | None = None) -> tuple[MoDiT, DiTInfo]:
    """Train a DiT on `dataset` and write the EMA weights to `out` (safetensors). Returns (EMA model, info).

    init: a DiT checkpoint whose parameters start the run (fine-tuning); its data statistics are replaced by
    this dataset's, and its config must build the same parameter shapes.
    decode: optional [B, L, K] expression -> [B, L, N, 3] points, enabling the landmark loss L_lks.
    on_step(step, {"total", "noise", "velocity", ...}: float): called after every optimiser step (tests, UIs).
    """
    rank, world, local_rank = _distributed()
    if world > 1 and str(device).startswith("cuda"):
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(device)
    config = build_config(preset, feature_dim=dataset.feature_dim, expression_dim=dataset.expression_dim,
                          **(config_overrides or {}))
    schedule = NoiseSchedule(schedule_config)
    torch.manual_seed(options.seed)  # the initial weights: same seed, same network on every rank
    model = MoDiT(config)
    if init:
        _initialise_from(model, init)
    if config.audio_norm == "utterance":
        dataset.center_features_per_utterance(config.utterance_norm_columns or None)
    for name, value in dataset.statistics(config.relative_motion).items():
        getattr(model, name).copy_(value)
    model.to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay)
    generator = torch.Generator().manual_seed(options.seed + 1000003 * rank)
    start = 0
    state_path = out + ".train.pt"
    if resume and os.path.isfile(state_path):
        state = torch.load(state_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        ema_model, _ = load_dit(out, device)
        ema.load_state_dict(ema_model.state_dict())
        generator.set_state(state["generator"].cpu())  # map_location moved it; CPU generators need a CPU state
        start = int(state["step"])
        log.info("resumed %s at step %d", out, start)
    elif resume:
        log.warning("--resume: %s not found, starting from scratch", state_path)
    network = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        network = DistributedDataParallel(model, device_ids=[local_rank] if str(device).startswith("cuda") else None)
    info = DiTInfo(preset=preset, config=config, space=dataset.metadata["space"],
                   feature_kind=dataset.metadata["feature_kind"], fps=float(dataset.metadata["fps"]),
                   schedule=schedule_config, num_train_steps=start,
                   bias={"phase_threshold": options.phase_threshold, "width": options.bias_width,
                         "spread": options.bias_spread})
    if rank == 0:
        log.info("training %s DiT (%.2f M parameters) on %s, %d rank(s), batch %d x %d frames, steps %d..%d",
                 preset, model.num_parameters() / 1e6, device, world, options.batch_size, config.window, start,
                 options.steps)
    model.train()
    running, count, tic = {}, 0, time.time()  # loss sums over the steps since the last log line
    for step in range(start, options.steps):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(options, step)
        batch = _normalize(model, dataset.sample_batch(options.batch_size, config.window, generator).to(device))
        losses = diffusion_losses(network, schedule, batch, generator, options, decode)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
        optimizer.step()
        decay = min(options.ema_decay, (1 + step) / (10 + step))  # EMA warm-up: early weights fade fast
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), model.parameters()):
                p_ema.lerp_(p, 1 - decay)
        values = {name: value.item() for name, value in losses.items()}
        for name, value in values.items():
            running[name] = running.get(name, 0.0) + value
        count += 1
        if on_step is not None:
            on_step(step + 1, values)
        done = step + 1
        if rank == 0 and (done % options.log_every == 0 or done == options.steps):
            log.info("step %d/%d  loss %.4f  L_t %.4f  L_v %.4f  lr %.2e  %.1f steps/s", done, options.steps,
                     running["total"] / count, running["noise"] / count, running["velocity"] / count,
                     optimizer.param_groups[0]["lr"], count / max(time.time() - tic, 1e-9))
            running, count, tic = {}, 0, time.time()
        if rank == 0 and (done % options.save_every == 0 or done == options.steps):
            info = _save(out, model, ema, optimizer, generator, info, done)
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return ema, info


def _initialise_from(model: MoDiT, init: str) -> None:
    """Copy a checkpoint's parameters into `model` (fine-tuning). A wider audio input than the checkpoint's (its
    features plus new columns, e.g. mel80 -> mel80+whisper4) keeps the old columns' weights and starts the new ones at
    zero, so the network begins as the checkpoint and learns what the new features add."""
    start_model, start_info = load_dit(init)
    own = dict(model.named_parameters())
    state = start_model.state_dict()
    parameters = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    key = "audio_embed.0.weight"
    old_dim, new_dim = start_model.config.feature_dim, model.config.feature_dim
    if key in state and key not in parameters and state[key].shape[0] == own[key].shape[0] and old_dim < new_dim:
        widened = torch.zeros_like(own[key])
        widened[:, :old_dim] = state[key]
        parameters[key] = widened
        log.info("--init %s: audio input widened from %d (%s) to %d features; the new columns start at zero",
                 init, old_dim, start_info.feature_kind, new_dim)
    missing = [k for k in own if k not in parameters]
    if missing:
        raise ValueError(f"--init {init}: parameters {missing[:5]} missing or of another shape; it was built with "
                         f"another preset")
    model.load_state_dict(parameters, strict=False)
    log.info("initialised from %s", init)


def _save(out, model, ema, optimizer, generator, info, step) -> DiTInfo:
    info = DiTInfo(**{**info.__dict__, "num_train_steps": step})
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    save_dit(out, ema, info)
    tmp = out + ".train.pt.partial"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "generator": generator.get_state()}, tmp)
    os.replace(tmp, out + ".train.pt")
    log.info("saved %s (step %d)", out, step)
    return info
