"""Frame-level cross-entropy training of a hybrid DNN (device-agnostic, seeded): Adam,
shuffled frame minibatches, learning rate halved when the dev frame error stops improving
(Kaldi nnet1's "newbob" idea), best dev epoch kept; the factored variants add lambda times
their CCA regulariser."""
from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from avsr.hybrid.data import FrameSet
from avsr.hybrid.models import HybridModel

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    epochs: int = 12
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    reg_lambda: float = 0.01  # factored variants: weight of the CCA regulariser
    halve_after: int = 1  # epochs without dev improvement before halving the lr
    stop_after: int = 3  # ... before stopping
    max_frames_per_epoch: int = 0  # 0 = all; else a random subset each epoch
    label_smoothing: float = 0.0  # cross-entropy label smoothing (softer posteriors from little data)
    seed: int = 0


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def frame_errors(model: HybridModel, data: FrameSet, splices: tuple[int, int], device: torch.device, batch_size: int = 4096) -> tuple[int, int, float]:
    """(errors, frames, mean cross-entropy) over every labelled frame."""
    model.eval()
    errors, frames, ce = 0, 0, 0.0
    labelled = np.nonzero(data.labels >= 0)[0]
    for i in range(0, len(labelled), batch_size):
        idx = labelled[i : i + batch_size]
        a, v, y = data.batch(idx, splices[0], splices[1], device)
        logits = model(a, v)
        errors += int((logits.argmax(-1) != y).sum())
        ce += float(F.cross_entropy(logits, y, reduction="sum"))
        frames += len(idx)
    return errors, frames, ce / max(frames, 1)


def train_model(
    model: HybridModel,
    train: FrameSet,
    dev: Optional[FrameSet],
    splices: tuple[int, int],
    cfg: TrainConfig,
    device: torch.device,
) -> list[dict]:
    """Train in place (the best dev epoch's weights are restored); returns per-epoch history."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    labelled = np.nonzero(train.labels >= 0)[0]
    best_err, best_state, since_best = float("inf"), None, 0
    history = []
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.time()
        model.train()
        order = rng.permutation(labelled)
        if cfg.max_frames_per_epoch and len(order) > cfg.max_frames_per_epoch:
            order = order[: cfg.max_frames_per_epoch]
        tot_loss, tot_reg, n = 0.0, 0.0, 0
        for i in tqdm(range(0, len(order), cfg.batch_size), desc=f"epoch {epoch}", leave=False, disable=len(order) < 50 * cfg.batch_size):
            idx = np.sort(order[i : i + cfg.batch_size])
            a, v, y = train.batch(idx, splices[0], splices[1], device)
            logits, reg = model.forward_with_regularization(a, v)
            loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            (loss + cfg.reg_lambda * reg).backward()
            opt.step()
            tot_loss += loss.item() * len(idx)
            tot_reg += reg.item() * len(idx)
            n += len(idx)
        row = {"epoch": epoch, "lr": opt.param_groups[0]["lr"], "train_ce": round(tot_loss / max(n, 1), 4),
               "train_reg": round(tot_reg / max(n, 1), 4), "seconds": 0.0}
        if dev is not None:
            err, frames, ce = frame_errors(model, dev, splices, device)
            row.update(dev_frame_err=round(100.0 * err / max(frames, 1), 2), dev_ce=round(ce, 4))
            if err < best_err:
                best_err, best_state, since_best = err, copy.deepcopy(model.state_dict()), 0
            else:
                since_best += 1
                if since_best >= cfg.stop_after:
                    row["seconds"] = round(time.time() - t0, 2)
                    history.append(row)
                    log.info("epoch %d: %s (early stop)", epoch, row)
                    break
                if since_best >= cfg.halve_after:
                    for g in opt.param_groups:
                        g["lr"] *= 0.5
        row["seconds"] = round(time.time() - t0, 2)
        history.append(row)
        log.info("epoch %d: %s", epoch, row)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def train_config_from_dict(d: Optional[dict]) -> TrainConfig:
    return TrainConfig(**(d or {}))


def config_as_dict(cfg) -> dict:
    return asdict(cfg)
