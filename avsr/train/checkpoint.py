"""Epoch checkpoints (``epoch-N.pt``, written atomically), resume and --epoch/--avg averaging."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch

from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path

PathLike = Union[str, Path]
_EPOCH_RE = re.compile(r"^epoch-(\d+)\.pt$")


def checkpoint_path(exp_dir: PathLike, epoch: int) -> Path:
    return Path(exp_dir) / f"epoch-{epoch}.pt"


def save_checkpoint(path: PathLike, state: dict[str, Any]) -> None:
    """Atomic: a kill during the write leaves the previous checkpoints intact and no partial
    ``epoch-N.pt`` (only a hidden ``.epoch-N.tmp-*.pt``, which no reader matches and the next
    save of that directory deletes)."""
    path = Path(path)
    for stale in path.parent.glob(".epoch-*.tmp-*"):  # left by a kill -9 during an earlier save
        stale.unlink(missing_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: PathLike, map_location: Union[str, torch.device] = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)  # tensors and plain data only: no code runs on load
    except Exception as err:  # a truncated/corrupt file: name it
        raise AvsrInputError(path, f"cannot read checkpoint ({type(err).__name__}: {err})") from None


def saved_epochs(exp_dir: PathLike) -> list[int]:
    """Epoch numbers with a checkpoint in ``exp_dir``, ascending."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        return []
    found = (_EPOCH_RE.match(p.name) for p in exp_dir.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def latest_epoch(exp_dir: PathLike) -> Optional[int]:
    epochs = saved_epochs(exp_dir)
    return epochs[-1] if epochs else None


def average_state_dicts(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of floating-point tensors (in float64, cast back); other tensors
    (integer counters) are taken from the last state."""
    if not states:
        raise ValueError("nothing to average")
    out: dict[str, torch.Tensor] = {}
    for key, last in states[-1].items():
        if torch.is_floating_point(last):
            acc = torch.zeros_like(last, dtype=torch.float64)
            for s in states:
                acc += s[key].to(torch.float64)
            out[key] = (acc / len(states)).to(last.dtype)
        else:
            out[key] = last.clone()
    return out


def averaged_model_state(exp_dir: PathLike, epoch: int, avg: int) -> dict[str, torch.Tensor]:
    """Average the model weights of epochs ``epoch − avg + 1 .. epoch`` (icefall's --epoch/--avg)."""
    if avg < 1 or epoch - avg + 1 < 1:
        raise AvsrInputError(exp_dir, f"--avg {avg} with --epoch {epoch}: need 1 <= avg <= epoch")
    states = [load_checkpoint(checkpoint_path(exp_dir, e))["model"] for e in range(epoch - avg + 1, epoch + 1)]
    return average_state_dicts(states)
