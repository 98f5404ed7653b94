#!/usr/bin/env python3
"""Cross-check our RNN-T loss against the optional backends (torchaudio, k2) where they import.

Neither imports beside the pinned torch 2.13 CPU build (shared/deps.md), so this is not a test
(a test that can never run here would skip forever); run it in an environment that has them,
e.g. a separate venv with ``torch==2.9.1 'torchaudio==2.9.*'``:

  python bench/crosscheck_rnnt_backends.py          # exit 1 if an importable backend disagrees

Prints one line per backend: max |ours - theirs| over random problems, or why it was not run.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from avsr.models.rnnt_loss import available_backends, rnnt_loss  # noqa: E402

PROBLEMS = [(2, 4, 3, 5, 0, [4, 3], [3, 2]), (3, 6, 4, 7, 0, [6, 5, 2], [4, 1, 0]), (2, 5, 2, 4, 0, [5, 1], [2, 2])]


def problem(seed: int, batch: int, frames: int, labels: int, vocab: int, blank: int, lt: list[int], lu: list[int]):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, frames, labels + 1, vocab, generator=g) * 2.0
    non_blank = torch.tensor([v for v in range(vocab) if v != blank])
    targets = non_blank[torch.randint(len(non_blank), (batch, labels), generator=g)]
    return logits, targets, torch.tensor(lt), torch.tensor(lu), blank


def main() -> int:
    worst = 0.0
    status = 0
    for backend in ("torchaudio", "k2"):
        if backend not in available_backends():
            print(f"{backend}: not importable here, not checked")
            continue
        diff = 0.0
        for seed, p in enumerate(PROBLEMS):
            logits, targets, lt, lu, blank = problem(seed, *p)
            ours = rnnt_loss(logits, targets, lt, lu, blank=blank, reduction="none")
            theirs = rnnt_loss(logits, targets, lt, lu, blank=blank, reduction="none", backend=backend)
            diff = max(diff, float((ours - theirs.float()).abs().max()))
        worst = max(worst, diff)
        ok = diff < 1e-4
        status |= 0 if ok else 1
        print(f"{backend}: max |ours - {backend}| = {diff:.2e} over {len(PROBLEMS)} problems: {'agree' if ok else 'DISAGREE'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
