"""Learning curves of the E2E systems: dev error rate after every epoch against the number of
updates, from each system's ``log/epochs.csv`` (written by avsr.train.loop with the per-epoch
dev scores of avsr.train.dev_score). Models started from other models (``--init-from``) begin
at their source's number of updates, so a curve shows the whole training of that system."""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import yaml

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


@dataclass
class Curve:
    system: str
    steps: list[int]  # cumulative updates at the end of each epoch (including the init source's)
    wer: list[Optional[float]]  # dev WER through the lexicon graph, when measured
    ter: list[Optional[float]]  # dev token (phone / piece) error rate of greedy search
    offset: int = 0  # updates of the model this one started from


def _float(text: Optional[str]) -> Optional[float]:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _read_epochs(path: Path) -> tuple[list[int], list[Optional[float]], list[Optional[float]]]:
    steps, wer, ter, total = [], [], [], 0
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            total = int(row.get("total_steps") or 0) or total + int(row.get("steps") or 0)
            steps.append(total)
            wer.append(_float(row.get("dev_wer")))
            ter.append(_float(row.get("dev_ter")))
    return steps, wer, ter


def _init_source(system_dir: Path) -> Optional[Path]:
    """The first ``--init-from`` source of a system (the one whose updates it continues)."""
    cfg_path = system_dir / "config.yaml"
    if not cfg_path.is_file():
        return None
    init = (yaml.safe_load(cfg_path.read_text()) or {}).get("init") or []
    return Path(init[0]["exp_dir"]) if init and init[0].get("exp_dir") else None


def collect_curves(exp: PathLike) -> list[Curve]:
    """One curve per E2E system directory of ``exp`` that has ``log/epochs.csv``; seed runs
    (``<system>_seed<N>``, run.sh --extra-seeds) are left out: one plot, the main run's curves."""
    from avsr.leaderboard.records import split_seed

    exp = Path(exp)
    raw = {}
    for path in sorted(exp.glob("*/log/epochs.csv")):
        if split_seed(path.parent.parent.name)[1] is not None:
            continue
        if (path.parent.parent / "config.yaml").is_file():
            raw[path.parent.parent] = _read_epochs(path)
    by_name = {d.name: d for d in raw}

    def total_updates(system_dir: Path, seen: frozenset = frozenset()) -> tuple[int, int]:
        """(updates before this system's first epoch, updates at its end), through its init chain."""
        source = _init_source(system_dir)
        offset = 0
        if source is not None and source.name in by_name and source.name not in seen:
            offset = total_updates(by_name[source.name], seen | {system_dir.name})[1]
        steps = raw[system_dir][0]
        return offset, offset + (steps[-1] if steps else 0)

    curves = []
    for system_dir, (steps, wer, ter) in raw.items():
        offset = total_updates(system_dir)[0]
        curves.append(Curve(system_dir.name, [offset + s for s in steps], wer, ter, offset))
    return curves


def plot_learning_curves(curves: list[Curve], out_png: PathLike) -> Optional[Path]:
    """dev WER (solid; dev token error rate dotted where no WER was measured) vs updates."""
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharex=False)
    for ax, family in zip(axes, ("ctc_att", "transducer")):
        for c in (c for c in curves if c.system.startswith(family)):
            pts = [(s, w) for s, w in zip(c.steps, c.wer) if w is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=3, label=f"{c.system} (WER)")
            tpts = [(s, t) for s, t in zip(c.steps, c.ter) if t is not None]
            if tpts and not pts:
                ax.plot(*zip(*tpts), ls=":", marker=".", label=f"{c.system} (token ER)")
        ax.set_title({"ctc_att": "CTC+attention", "transducer": "transducer"}[family] + ": dev error vs updates")
        ax.set_xlabel("updates (including the model it started from)")
        ax.set_ylabel("dev error rate, %")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.grid(alpha=0.3, which="both")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_png.with_name(f".{out_png.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out_png)
    return out_png
