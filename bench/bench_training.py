#!/usr/bin/env python3
"""Training throughput per trained system of an experiment dir, from what training recorded.

Nothing is re-run. One Markdown table:

  system | kind | epochs | train s | s/epoch | frames/s | utts/s | peak MiB

  .venv/bin/python bench/bench_training.py --exp exp --data data

Per kind, from which files (n/r = not recorded by that system's outputs):
  E2E (ctc_att_*, transducer_*)  log/epochs.csv seconds (one epoch = training steps + dev loss +
      checkpoint); utterances per epoch from log/train.csv (else the manifest); frames = the
      training cut manifest's fbank frames (100 fps) <data>/fbank/<corpus>_cuts_<train_set>.jsonl.gz,
      train set and corpus from config.yaml, scaled to the utterances actually trained on. No peak RSS.
  hybrid (hybrid_*)  train.json: history (epochs run, early stopping included; each epoch's seconds
      include the dev frame-error pass), seconds.train, peak_rss_mib (the whole training process);
      frames per epoch = min(train_frames, train.max_frames_per_epoch from final.pt). Training is
      over shuffled frames, so there is no utterance rate (shown as —).
  GMM (mono, tri)  train.json: seconds.train (EM passes with their re-alignments; tri: tree
      building too) over len(history) passes of the train set (frames from its manifest). No peak RSS.
A posterior-averaging hybrid system has nothing to train and is listed under the table.
"""
from __future__ import annotations

import csv
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from _common import (NOT_RECORDED, default_data_dir, exp_data_parser, fmt, markdown_table, read_json, read_yaml, set_stats,
                     systems)

HEADERS = ["system", "kind", "epochs", "train s", "s/epoch", "frames/s", "utts/s", "peak MiB"]


@dataclass
class TrainingRow:
    system: str
    kind: str
    epochs: int
    train_seconds: float
    seconds_per_epoch: float
    frames_per_epoch: Optional[float] = None  # None: not known
    utts_per_epoch: Optional[float] = None
    peak_mib: Optional[float] = None
    has_utterance_rate: bool = True  # False: frame-level training (hybrid), shown as "—"

    def cells(self) -> list[str]:
        spe = self.seconds_per_epoch
        frames_s = self.frames_per_epoch / spe if self.frames_per_epoch and spe > 0 else None
        utts_s = self.utts_per_epoch / spe if self.utts_per_epoch and spe > 0 else None
        return [self.system, self.kind, str(self.epochs), fmt(self.train_seconds), fmt(spe, 2),
                fmt(frames_s, 0, thousands=True), fmt(utts_s, 1) if self.has_utterance_rate else "—",
                fmt(self.peak_mib, 0)]


def e2e_row(system_dir: Path, data_dir: Optional[Path]) -> TrainingRow:
    """Row of one CTC+attention / transducer system."""
    with open(system_dir / "log" / "epochs.csv", newline="") as f:
        seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    cfg = read_yaml(system_dir / "config.yaml")
    data_cfg = cfg.get("data", {})
    stats = set_stats(data_dir or (Path(data_cfg["dir"]) if data_cfg.get("dir") else None),
                      data_cfg.get("train_set", "train"), data_cfg.get("corpus"))
    utts = _utts_per_epoch(system_dir / "log" / "train.csv")
    frames = None
    if stats is not None:
        utts = utts or stats.utts
        # the bucketing sampler may leave a few cuts out of an epoch: scale the set's frames
        frames = stats.frames * utts / stats.utts if stats.utts else None
    kind = f"{cfg.get('model', 'e2e')} {cfg.get('frontend', {}).get('fusion', '?')}"
    # the training loop records no memory today; take it if a summary ever does
    peaks = [read_json(p).get("peak_rss_mib") for p in (system_dir / "log").glob("train_summary_*.json")]
    peak = max((p for p in peaks if p is not None), default=None)
    return TrainingRow(system_dir.name, kind, len(seconds), sum(seconds),
                       statistics.mean(seconds) if seconds else 0.0, frames, utts, peak)


def _utts_per_epoch(train_csv: Path) -> Optional[float]:
    """Mean utterances per epoch from the per-step log (None if absent)."""
    if not train_csv.is_file():
        return None
    per_epoch: Counter = Counter()
    with open(train_csv, newline="") as f:
        for r in csv.DictReader(f):
            per_epoch[r["epoch"]] += int(r["utts"])
    return statistics.mean(per_epoch.values()) if per_epoch else None


def hybrid_row(system_dir: Path) -> Optional[TrainingRow]:
    """Row of one hybrid DNN (None for a posterior average: nothing trained)."""
    if not (system_dir / "train.json").is_file():
        return None
    info = read_json(system_dir / "train.json")
    history = info.get("history", [])
    epoch_seconds = [float(h["seconds"]) for h in history]
    frames = info.get("train_frames")
    cap = _max_frames_per_epoch(system_dir / "final.pt")
    if frames and cap:
        frames = min(frames, cap)
    return TrainingRow(system_dir.name, f"hybrid {info.get('variant', '?')}", len(history),
                       float(info.get("seconds", {}).get("train", sum(epoch_seconds))),
                       statistics.mean(epoch_seconds) if epoch_seconds else 0.0, frames, None,
                       info.get("peak_rss_mib"), has_utterance_rate=False)


def _max_frames_per_epoch(final_pt: Path) -> int:
    """train.max_frames_per_epoch the model was trained with (0 = all frames, or unknown)."""
    if not final_pt.is_file():
        return 0
    import torch

    ckpt = torch.load(final_pt, map_location="cpu", weights_only=True)
    return int(ckpt.get("train_config", {}).get("max_frames_per_epoch") or 0)


def gmm_row(system_dir: Path, data_dir: Optional[Path]) -> TrainingRow:
    """Row of a monophone / triphone GMM-HMM (one 'epoch' = one EM pass)."""
    info = read_json(system_dir / "train.json")
    passes = len(info.get("history", [])) or int(info.get("config", {}).get("num_iters", 0))
    train_s = float(info.get("seconds", {}).get("train", 0.0))
    stats = set_stats(data_dir, info.get("train_set", "train"))
    return TrainingRow(system_dir.name, f"gmm {info.get('kind', '?')}", passes, train_s,
                       train_s / passes if passes else 0.0,
                       stats.frames if stats else None, stats.utts if stats else None, info.get("peak_rss_mib"))


def training_rows(exp_dir: Path, data_dir: Optional[Path] = None, kinds: tuple[str, ...] = ("gmm", "hybrid", "e2e")
                  ) -> tuple[list[TrainingRow], list[str]]:
    """(rows, names of systems with nothing trained) for every system under ``exp_dir``."""
    rows, untrained = [], []
    for kind, d in systems(exp_dir):
        if kind not in kinds:
            continue
        row = e2e_row(d, data_dir) if kind == "e2e" else hybrid_row(d) if kind == "hybrid" else gmm_row(d, data_dir)
        if row is None:
            untrained.append(d.name)
        else:
            rows.append(row)
    return rows, untrained


def training_table(exp_dir: Path, data_dir: Optional[Path] = None, kinds: tuple[str, ...] = ("gmm", "hybrid", "e2e")) -> str:
    """The Markdown table (plus a note on untrained systems)."""
    rows, untrained = training_rows(exp_dir, data_dir, kinds)
    text = markdown_table(HEADERS, [r.cells() for r in rows], [False, False] + [True] * 6)
    if untrained:
        text += f"\n\nNothing trained (posterior averages of other systems): {', '.join(untrained)}."
    return text


def main() -> None:
    p = exp_data_parser(__doc__)
    args = p.parse_args()
    if not args.exp.is_dir():
        p.error(f"{args.exp}: not a directory")
    data = args.data or default_data_dir(args.exp)
    print(f"Training throughput, {args.exp} (manifests: {data or NOT_RECORDED})\n")
    print(training_table(args.exp, data))


if __name__ == "__main__":
    main()
