"""Self-supervised training of the sync network on in-sync clips (no labels needed).

Every window of a clip is a positive pair with the audio of the same 0.2 s; the same audio
against the video ``k`` frames later (0 < |k| <= ``max_offset``, inside the clip) is a negative.
Two losses over the same batch (all windows of ``clips_per_batch`` clips):

- ``multiway`` (Perfect Match, Chung et al. 2019): for each audio window, a softmax over its
  2K + 1 candidate video windows (the in-sync one is the target), cross-entropy over K;
- ``contrastive`` (SyncNet, Chung & Zisserman 2016): for each pair, d = ||a - v|| of the unit
  embeddings; loss y d^2 + (1 - y) max(margin - d, 0)^2, positives and negatives weighted equally.

Saved model dir: ``model.pt`` (a plain state dict: ``torch.load(weights_only=True)``),
``model.json`` (model config, training config, history, seconds).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from avsr.sync.model import SyncModelConfig, SyncNet, num_parameters
from avsr.sync.streams import ClipStreams
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path, write_json_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)
LOSSES = ("multiway", "contrastive")


@dataclass(frozen=True)
class SyncTrainConfig:
    loss: str = "multiway"
    steps: int = 400
    clips_per_batch: int = 12
    max_offset: int = 15  # candidate / negative offsets in training (frames)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    margin: float = 1.0  # contrastive loss margin on the embedding distance (unit vectors: d in [0, 2])
    seed: int = 1234
    num_threads: int = 1
    device: str = "auto"
    log_every: int = 50


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def offset_index(n: int, max_offset: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(index [n, 2K+1] of video window t + k for audio window t, valid mask) for k = -K..K."""
    k = torch.arange(-max_offset, max_offset + 1, device=device)
    idx = torch.arange(n, device=device)[:, None] + k[None, :]
    valid = (idx >= 0) & (idx < n)
    return idx.clamp(0, n - 1), valid


def clip_loss(ea: torch.Tensor, ev: torch.Tensor, loss: str, max_offset: int, log_scale: torch.Tensor,
              margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, share of audio windows whose best candidate is the in-sync video) of one clip."""
    n = ea.shape[0]
    idx, valid = offset_index(n, max_offset, ea.device)
    sim = ea @ ev.T  # [n, n] cosines: audio window t vs video window u
    cand = torch.gather(sim, 1, idx)  # [n, 2K+1]
    correct = (cand.detach().masked_fill(~valid, float("-inf")).argmax(1) == max_offset).float().mean()
    if loss == "multiway":
        target = torch.full((n,), max_offset, dtype=torch.long, device=ea.device)
        # scale before masking: -inf * scale would give a NaN gradient for the scale
        return F.cross_entropy((cand * log_scale.exp()).masked_fill(~valid, float("-inf")), target), correct
    if loss == "contrastive":
        dist = torch.sqrt(torch.clamp(2.0 - 2.0 * cand, min=1e-8))
        pos = dist[:, max_offset] ** 2
        neg_mask = valid.clone()
        neg_mask[:, max_offset] = False
        neg = (torch.clamp(margin - dist, min=0.0) ** 2)[neg_mask]
        return 0.5 * pos.mean() + 0.5 * neg.mean(), correct
    raise ValueError(f"unknown loss {loss!r} ({' | '.join(LOSSES)})")


def _clip_tensors(clip: ClipStreams, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(clip.video).to(device), torch.from_numpy(clip.audio).to(device)


def batch_loss(model: SyncNet, clips: Sequence[ClipStreams], cfg: SyncTrainConfig, device: torch.device) -> tuple[torch.Tensor, float]:
    """Mean loss over the clips; all their windows go through each stream in one call (batch norm
    statistics over the whole batch)."""
    vws, aws = [], []
    for c in clips:
        v, a = _clip_tensors(c, device)
        vws.append(model.video_windows(v))
        aws.append(model.audio_windows(a))
    ev_all, ea_all = model.video(torch.cat(vws)), model.audio(torch.cat(aws))
    losses, correct, start = [], [], 0
    for vw in vws:
        n = vw.shape[0]
        l, c = clip_loss(ea_all[start : start + n], ev_all[start : start + n], cfg.loss, cfg.max_offset, model.log_scale,
                         cfg.margin)
        losses.append(l)
        correct.append(float(c))
        start += n
    return torch.stack(losses).mean(), float(np.mean(correct))


def train_sync_model(train: Sequence[ClipStreams], model_cfg: SyncModelConfig, cfg: SyncTrainConfig,
                     valid: Optional[Sequence[ClipStreams]] = None) -> tuple[SyncNet, dict]:
    """Train on in-sync clips; returns the model (eval mode) and its history."""
    if cfg.loss not in LOSSES:
        raise AvsrInputError(None, f"unknown sync loss {cfg.loss!r} (one of {', '.join(LOSSES)})")
    usable = [c for c in train if c.num_frames >= model_cfg.window + 2]
    if not usable:
        raise AvsrInputError(None, f"no training clip has {model_cfg.window + 2} video frames")
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, cfg.num_threads))
    rng = np.random.default_rng(cfg.seed)
    device = resolve_device(cfg.device)
    model = SyncNet(model_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    history, t0, cpu0, run_loss, run_acc = [], time.time(), time.process_time(), [], []
    for step in tqdm(range(1, cfg.steps + 1), desc=f"sync ({cfg.loss})", leave=False):
        model.train()
        picks = rng.choice(len(usable), size=min(cfg.clips_per_batch, len(usable)), replace=False)
        loss, acc = batch_loss(model, [usable[i] for i in picks], cfg, device)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run_loss.append(float(loss.detach()))
        run_acc.append(acc)
        if step % cfg.log_every == 0 or step == cfg.steps:
            entry = {"step": step, "loss": round(float(np.mean(run_loss)), 4),
                     "window_acc": round(float(np.mean(run_acc)), 4), "seconds": round(time.time() - t0, 1)}
            if valid:
                entry["valid_window_acc"] = round(window_accuracy(model, valid, cfg.max_offset, device), 4)
            history.append(entry)
            log.info("sync %s step %d: %s", cfg.loss, step, entry)
            run_loss, run_acc = [], []
    model.eval()
    return model, {"history": history, "seconds": round(time.time() - t0, 1),
                   "cpu_seconds": round(time.process_time() - cpu0, 1), "num_train_clips": len(usable),
                   "num_parameters": num_parameters(model)}


@torch.no_grad()
def window_accuracy(model: SyncNet, clips: Sequence[ClipStreams], max_offset: int, device: torch.device) -> float:
    """Share of audio windows whose best of the 2K+1 candidate video windows is the in-sync one."""
    was = model.training
    model.eval()
    acc = []
    for c in clips:
        if c.num_frames < model.cfg.window + 2:
            continue
        v, a = _clip_tensors(c, device)
        ea, ev = model.embed_clip(v, a)
        acc.append(float(clip_loss(ea, ev, "multiway", max_offset, model.log_scale, 1.0)[1]))
    model.train(was)
    return float(np.mean(acc)) if acc else float("nan")


def save_sync_model(model: SyncNet, out_dir: PathLike, train_cfg: SyncTrainConfig, info: dict, extra: Optional[dict] = None) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "model.pt") as tmp:
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, tmp)
    write_json_atomic(out / "model.json", {"model_config": model.cfg.to_dict(), "train_config": asdict(train_cfg),
                                          **info, **(extra or {})})


def load_sync_model(model_dir: PathLike, device: str = "cpu") -> tuple[SyncNet, dict]:
    d = Path(model_dir)
    if not (d / "model.pt").is_file() or not (d / "model.json").is_file():
        raise AvsrInputError(d, "sync model not found (model.pt + model.json): run steps/train_sync.py")
    meta = json.loads((d / "model.json").read_text())
    model = SyncNet(SyncModelConfig(**meta["model_config"]))
    model.load_state_dict(torch.load(d / "model.pt", map_location="cpu", weights_only=True))
    return model.to(resolve_device(device)).eval(), meta
