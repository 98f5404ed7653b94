"""Training loop shared by the CTC+attention and transducer models.

- one checkpoint per epoch (``epoch-N.pt``: model, optimiser, scheduler, step), written atomically;
  re-running resumes after the last complete epoch (a kill -9 loses at most the current epoch);
- every random draw of epoch e (sampler order, SpecAugment, dropout, modality dropout) comes from
  RNGs seeded with (seed, e, rank) at the start of the epoch, so a resumed run repeats exactly
  what an uninterrupted run would have done;
- the loss is a sum over utterances divided by the local batch size: DDP's gradient averaging
  over equal-sized ranks then equals one process on the union of the batches;
- logs: ``log/train.csv`` (per step, global-batch averages), ``log/epochs.csv`` (per epoch, with
  dev loss and wall time), TensorBoard when the package is importable; tqdm progress on rank 0.
"""
from __future__ import annotations

import csv
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from avsr.models.factory import dataclass_from
from avsr.train.checkpoint import checkpoint_path, latest_epoch, load_checkpoint, save_checkpoint
from avsr.train.data import FeatureCache, SpecAugment, bucketing_batches, collate, eval_batches, fixed_batches
from avsr.train.distributed import DistInfo, all_reduce_sum, barrier, min_over_ranks
from avsr.train.noise_aug import OnTheFlyNoise, noise_config
from avsr.train.speed_aug import SpeedPerturb, speed_config
from avsr.train.video_aug import VideoFlip, video_flip_config
from avsr.utils.io import write_json_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    epochs: int = 10
    lr: float = 2e-3  # peak learning rate (after warm-up)
    warmup_steps: int = 200
    weight_decay: float = 1e-6
    grad_clip: float = 5.0
    sampler: str = "bucketing"  # bucketing | fixed
    max_duration: float = 60.0  # seconds per batch per rank (bucketing)
    num_buckets: int = 5
    batch_size: int = 16  # utterances per batch per rank (fixed)
    seed: int = 1234
    spec_augment: bool = True
    spec_augment_conf: dict = field(default_factory=dict)
    spec_augment_from_epoch: int = 1  # clean, unmasked data first: SpecAugment once off the plateau
    noise: dict = field(default_factory=dict)  # on-the-fly noise (avsr.train.noise_aug.NoiseAugmentConfig)
    speed_perturb: dict = field(default_factory=dict)  # on-the-fly speed perturbation (avsr.train.speed_aug)
    video_flip: dict = field(default_factory=dict)  # on-the-fly mouth mirroring (avsr.train.video_aug)
    aux_weight: float = 0.0  # frame cross-entropy on alignment labels (avsr.train.frame_labels) ...
    aux_until_epoch: int = 0  # ... for epochs 1..aux_until_epoch
    aux_targets: str = "phone"  # phone (the lang's phones) | pdf (the tree's CD states)
    freeze_encoder_epochs: int = 0  # epochs 1..N: front-end + encoder frozen (a model started from a trained encoder)
    lr_schedule: str = "noam"  # noam (warm-up, then 1/sqrt) | cosine (warm-up, then cosine to lr_final)
    lr_final: float = 0.05  # cosine: final lr as a fraction of the peak
    num_threads: int = 2
    dev_max_duration: float = 120.0
    dev_max_utts: int = 0  # dev loss on this many utterances (evenly spread; 0 = all): it is only a progress signal


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def noam_lambda(warmup: int) -> Callable[[int], float]:
    """Linear warm-up to 1 over ``warmup`` steps, then ∝ 1/sqrt(step)."""
    return lambda step: min((step + 1) / warmup, math.sqrt(warmup / (step + 1)))


def cosine_lambda(warmup: int, total: int, final: float) -> Callable[[int], float]:
    """Linear warm-up to 1 over ``warmup`` steps, then a cosine down to ``final`` at ``total``."""
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        x = min(1.0, (step - warmup) / max(1, total - warmup))
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * x))
    return f


class CsvLog:
    """Append rows to a CSV; on resume, rows of epochs after the checkpoint are dropped first."""

    def __init__(self, path: Path, columns: list[str], keep_epochs_upto: int) -> None:
        self.path, self.columns = path, columns
        rows = []
        if path.is_file():
            with open(path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= keep_epochs_upto]
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, columns)
            w.writeheader()
            w.writerows({k: r.get(k, "") for k in columns} for r in rows)

    def write(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.columns).writerow({k: row.get(k, "") for k in self.columns})


def _tensorboard(exp_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard not installed: CSV logs only
        return None
    return SummaryWriter(str(exp_dir / "tensorboard"))


def evaluate_loss(model: nn.Module, cache: FeatureCache, tokenize, device: torch.device, max_duration: float) -> float:
    """Mean loss per utterance over a cut set (eval mode, no augmentation)."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for ids in eval_batches(cache, max_duration):
            batch = collate([cache.utts[i] for i in ids], tokenize).to(device)
            loss, _ = model(batch)
            total += float(loss)
            count += len(ids)
    return total / max(count, 1)


def train(model: nn.Module, cfg: dict[str, Any], exp_dir: PathLike, train_cache: FeatureCache,
          dev_cache: Optional[FeatureCache], tokenize: Callable, device: torch.device,
          dist_info: DistInfo = DistInfo(), dev_scorer: Optional[Callable] = None) -> dict[str, Any]:
    """Train ``model`` for ``cfg['train']['epochs']`` epochs in ``exp_dir``, resuming if possible.

    ``cfg`` is the whole resolved config (stored in every checkpoint). ``dev_scorer(model,
    device)`` → dict of dev error rates per epoch (avsr.train.dev_score.DevScorer), logged in
    ``log/epochs.csv``. Returns a summary dict.
    """
    exp_dir = Path(exp_dir)
    opts = dataclass_from(TrainOptions, cfg.get("train"), "train")
    threads = opts.num_threads
    if dist_info.enabled and device.type == "cpu":  # CPU DDP: the ranks share the machine's cores
        threads = max(1, threads // int(os.environ.get("LOCAL_WORLD_SIZE", dist_info.world_size)))
    torch.set_num_threads(max(1, threads))
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=opts.lr, betas=(0.9, 0.98), eps=1e-9,
                                 weight_decay=opts.weight_decay)
    train_cuts = None
    if opts.sampler == "bucketing":
        from lhotse import CutSet
        from lhotse.cut import MonoCut

        # a lightweight CutSet (ids + durations) for the bucketing sampler; features come from the cache
        train_cuts = CutSet.from_cuts(MonoCut(id=u.id, start=0.0, duration=u.duration, channel=0)
                                      for u in (train_cache.utts[i] for i in train_cache.ids()))
    elif opts.sampler != "fixed":
        raise ValueError(f"train.sampler must be 'bucketing' or 'fixed', got {opts.sampler!r}")

    def epoch_batches(epoch: int) -> list[list[str]]:
        if opts.sampler == "fixed":
            batches = fixed_batches(train_cache.ids(), opts.batch_size, epoch, opts.seed, dist_info.world_size,
                                    dist_info.rank)
        else:
            batches = bucketing_batches(train_cuts, opts.max_duration, opts.num_buckets, epoch, opts.seed,
                                        dist_info.world_size, dist_info.rank)
        return batches[: min_over_ranks(len(batches), dist_info, device)]  # DDP: equal step counts

    if opts.lr_schedule == "noam":
        lr_lambda = noam_lambda(opts.warmup_steps)
    elif opts.lr_schedule == "cosine":
        lr_lambda = cosine_lambda(opts.warmup_steps, opts.epochs * len(epoch_batches(1)), opts.lr_final)
    else:
        raise ValueError(f"train.lr_schedule must be 'noam' or 'cosine', got {opts.lr_schedule!r}")
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    noise = None
    noise_cfg = noise_config(opts.noise)
    if noise_cfg.from_epoch > 0:
        noise = OnTheFlyNoise(noise_cfg, train_cache)
    speed_cfg = speed_config(opts.speed_perturb)
    speed = SpeedPerturb(speed_cfg) if speed_cfg.from_epoch > 0 else None
    flip_cfg = video_flip_config(opts.video_flip)
    flip = VideoFlip(flip_cfg) if flip_cfg.prob > 0 else None
    start_epoch, step = 1, 0
    last = latest_epoch(exp_dir)
    if last is not None:
        state = load_checkpoint(checkpoint_path(exp_dir, last), map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, step = last + 1, int(state["step"])
        if dist_info.is_main:
            log.info("resuming from %s (epoch %d, step %d)", checkpoint_path(exp_dir, last), last, step)
    if start_epoch > opts.epochs:
        log.info("%s: already trained for %d epochs", exp_dir, opts.epochs)
        return {"epochs": opts.epochs, "resumed_from": last, "trained_epochs": 0}

    ddp_model: nn.Module = model
    if dist_info.enabled:
        ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True)
    augment = SpecAugment(**opts.spec_augment_conf) if opts.spec_augment else None
    frontend = model.frontend
    audio_fill = frontend.audio_mean.detach().cpu()
    # masked video frames take the mean frame: grey level (crops) or the mean coefficients (DCT)
    video_fill = (frontend.video_mean.detach().cpu() if frontend.cfg.video_input == "dct"
                  else int(round(float(frontend.video_mean) * 255)))
    step_log = epoch_log = tb = None
    if dist_info.is_main:
        step_log = CsvLog(exp_dir / "log" / "train.csv", ["epoch", "step", "loss", "utts", "lr", "ctc", "att", "rnnt",
                                                          "aux", "att_acc", "elapsed"], start_epoch - 1)
        epoch_log = CsvLog(exp_dir / "log" / "epochs.csv", ["epoch", "train_loss", "dev_loss", "dev_ter", "dev_wer",
                                                            "steps", "total_steps", "seconds"], start_epoch - 1)
        tb = _tensorboard(exp_dir)
    t_start = time.time()
    epoch_times = []
    for epoch in range(start_epoch, opts.epochs + 1):
        t_epoch = time.time()
        seed_everything(opts.seed + 1000 * epoch + dist_info.rank)
        batches = epoch_batches(epoch)
        noise_rng = np.random.default_rng([opts.seed, epoch, dist_info.rank, 7])
        use_noise = noise is not None and noise.active(epoch)
        use_speed = speed is not None and speed.active(epoch)
        flip_rng = np.random.default_rng([opts.seed, epoch, dist_info.rank, 11])  # its own stream: the noise draws stay put
        epoch_augment = augment if epoch >= opts.spec_augment_from_epoch else None
        model.aux_weight = opts.aux_weight if epoch <= opts.aux_until_epoch else 0.0
        model.freeze_encoder = epoch <= opts.freeze_encoder_epochs
        ddp_model.train()
        epoch_loss = epoch_utts = 0.0
        bar = tqdm(batches, desc=f"{exp_dir.name} epoch {epoch}/{opts.epochs}", disable=not dist_info.is_main,
                   leave=False)
        for ids in bar:
            utts = [train_cache.utts[i] for i in ids]
            if use_speed:  # before the noise: the noise is then mixed into the perturbed speech
                utts = [speed(u, noise_rng) for u in utts]
            if use_noise:
                utts = [noise.mix(u, noise_rng) for u in utts]
            if flip is not None:
                utts = [flip(u, flip_rng) for u in utts]
            batch = collate(utts, tokenize, epoch_augment, audio_fill, video_fill).to(device)
            loss, info = ddp_model(batch)
            optimizer.zero_grad(set_to_none=True)
            (loss / len(batch)).backward()
            if opts.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            keys = sorted(info)
            sums = all_reduce_sum([float(loss.detach()), float(len(batch))] + [info[k] for k in keys], dist_info, device)
            loss_sum, utts = sums[0], sums[1]
            parts = dict(zip(keys, sums[2:]))
            epoch_loss += loss_sum
            epoch_utts += utts
            if dist_info.is_main:
                row = {"epoch": epoch, "step": step, "loss": f"{loss_sum / utts:.6f}", "utts": int(utts),
                       "lr": f"{scheduler.get_last_lr()[0]:.3e}", "elapsed": f"{time.time() - t_start:.2f}"}
                for k in ("ctc", "att", "rnnt", "aux"):
                    if k in parts:
                        row[k] = f"{parts[k] / utts:.6f}"
                if "att_tokens" in parts:
                    row["att_acc"] = f"{parts['att_correct'] / max(parts['att_tokens'], 1):.4f}"
                step_log.write(row)
                if tb is not None:
                    tb.add_scalar("train/loss", loss_sum / utts, step)
                bar.set_postfix(loss=f"{loss_sum / utts:.3f}")
        dev_loss = float("nan")
        if dist_info.is_main:
            if dev_cache is not None and len(dev_cache):
                dev_loss = evaluate_loss(model, dev_cache, tokenize, device, opts.dev_max_duration)
            model.freeze_encoder = False
            dev_rates = dev_scorer(model, device) if dev_scorer is not None else {}
            seconds = time.time() - t_epoch
            epoch_times.append(seconds)
            save_checkpoint(checkpoint_path(exp_dir, epoch), {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "epoch": epoch, "step": step, "config": cfg})
            epoch_log.write({"epoch": epoch, "train_loss": f"{epoch_loss / max(epoch_utts, 1):.6f}",
                             "dev_loss": f"{dev_loss:.6f}", "steps": len(batches), "total_steps": step,
                             "seconds": f"{seconds:.2f}", **dev_rates})
            if tb is not None:
                tb.add_scalar("dev/loss", dev_loss, step)
            log.info("epoch %d: train loss %.4f, dev loss %.4f%s, %d steps, %.1f s", epoch,
                     epoch_loss / max(epoch_utts, 1), dev_loss,
                     "".join(f", {k} {v:.2f}" for k, v in dev_rates.items()), len(batches), seconds)
        barrier(dist_info)
    summary = {"epochs": opts.epochs, "resumed_from": last, "trained_epochs": opts.epochs - start_epoch + 1,
               "seconds": round(time.time() - t_start, 2), "epoch_seconds": [round(s, 2) for s in epoch_times],
               "world_size": dist_info.world_size, "device": str(device)}
    if dist_info.is_main:
        write_json_atomic(exp_dir / "log" / f"train_summary_from_epoch{start_epoch}.json", summary)
    return summary
