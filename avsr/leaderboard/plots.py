"""PNG plots (matplotlib Agg, no pyplot global state, no timestamps: same data → same bytes).

* ``wer_vs_snr_<family>.png``: WER vs babble SNR, clean at the right, one line per modality
  (A, V and the family's best AV system), 95 % bootstrap intervals as error bars.
* ``wer_vs_snr.png``: the same, one subplot per family.
* ``fusion_frame_per.png``: frame CD-state classification error of every hybrid variant per
  condition (grouped bars)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

from matplotlib.figure import Figure

from avsr.leaderboard.conditions import Condition, ordered
from avsr.leaderboard.records import SystemRow
from avsr.leaderboard.significance import DEFAULT_E2E_METHODS, plain_rows, representative_method
from avsr.leaderboard.stats import Statistics
from avsr.utils.io import atomic_path

PathLike = Union[str, Path]
PLOT_FAMILIES = {"hybrid": "hybrid", "CTC+attention": "ctc_att", "transducer": "transducer"}  # family → file slug
MODALITY_STYLE = {"A": ("tab:blue", "o"), "V": ("tab:green", "s"), "AV": ("tab:red", "^")}
PNG_METADATA = {"Software": None}  # no matplotlib version in the file


def _save(fig: Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata=PNG_METADATA)


def snr_axis(rows: Sequence[SystemRow], noise: str = "babble") -> list[Condition]:
    """x axis: ``noise`` conditions from low to high SNR, then clean (right)."""
    noisy = sorted({c for r in rows for c in r.scores if c.noise == noise}, key=lambda c: c.snr)
    clean = [c for r in rows for c in r.scores if c.is_clean][:1]
    return noisy + clean


def modality_lines(rows: Sequence[SystemRow], family: str, axis: Sequence[Condition],
                   methods: Mapping[str, str] = DEFAULT_E2E_METHODS) -> list[tuple[str, SystemRow]]:
    """[(legend label, row)] for A, V and the best AV system (lowest mean WER over ``axis``)."""
    method = representative_method(rows, family, methods)
    cands = [r for r in plain_rows(rows) if r.family == family and r.method == method]

    def mean_wer(r: SystemRow) -> float:
        vals = [r.rate(c, "wer") for c in axis if r.rate(c, "wer") is not None]
        return sum(vals) / len(vals) if vals else math.inf

    out = []
    for modality in ("A", "V", "AV"):
        group = [r for r in cands if r.base_modality == modality and mean_wer(r) < math.inf]
        if group:
            best = min(group, key=lambda r: (mean_wer(r), r.key))
            out.append((f"{modality}: {best.system}", best))
    return out


def _error_bar(rate, interval) -> tuple[float, float]:
    """Error-bar lengths below and above ``rate``; 0 where there is no interval, where it is NaN
    (no per-utterance counts) or where the rate lies outside it (a summary rate recomputed
    differently from the per-utterance counts, e.g. frame PER without alignments)."""
    if rate is None or interval is None:
        return 0.0, 0.0
    low, high = rate - interval.low, interval.high - rate
    return (low if low >= 0 else 0.0), (high if high >= 0 else 0.0)


def _plot_family(ax, rows: Sequence[SystemRow], family: str, stats: Statistics, methods: Mapping[str, str]) -> bool:
    axis = snr_axis([r for r in rows if r.family == family])
    lines = modality_lines(rows, family, axis, methods)
    if not lines or not axis:
        return False
    xs = list(range(len(axis)))
    for k, (label, row) in enumerate(lines):
        color, marker = MODALITY_STYLE.get(row.base_modality, ("tab:gray", "x"))
        ys, lo, hi = [], [], []
        for c in axis:
            rate = row.rate(c, "wer")
            iv = stats.interval(row, c, "wer") if rate is not None else None
            ys.append(rate if rate is not None else math.nan)
            low, high = _error_bar(rate, iv)
            lo.append(low)
            hi.append(high)
        shift = (k - (len(lines) - 1) / 2) * 0.06  # small offsets keep overlapping error bars apart
        ax.errorbar([x + shift for x in xs], ys, yerr=[lo, hi], color=color, marker=marker, capsize=3, label=label)
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{c.snr:g}" if not c.is_clean else "clean" for c in axis])
    ax.set_xlabel("babble SNR (dB)")
    ax.set_ylabel("WER (%)")
    method = representative_method(rows, family, methods)
    ax.set_title(family + (f" ({method})" if method else ""))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return True


def plot_wer_vs_snr(rows: Sequence[SystemRow], stats: Statistics, plots_dir: PathLike,
                    methods: Mapping[str, str] = DEFAULT_E2E_METHODS) -> list[Path]:
    """One PNG per family with data, plus the combined ``wer_vs_snr.png``; returns the paths."""
    plots_dir = Path(plots_dir)
    written = []
    families = [f for f in PLOT_FAMILIES if any(r.family == f for r in rows)]
    for family in families:
        fig = Figure(figsize=(6, 4.2))
        if _plot_family(fig.add_subplot(1, 1, 1), rows, family, stats, methods):
            fig.tight_layout()
            path = plots_dir / f"wer_vs_snr_{PLOT_FAMILIES[family]}.png"
            _save(fig, path)
            written.append(path)
    if families:
        fig = Figure(figsize=(5.2 * len(families), 4.2))
        drawn = [_plot_family(fig.add_subplot(1, len(families), i + 1), rows, f, stats, methods) for i, f in enumerate(families)]
        if any(drawn):
            fig.tight_layout()
            path = plots_dir / "wer_vs_snr.png"
            _save(fig, path)
            written.append(path)
    return written


def plot_fusion_frame_per(rows: Sequence[SystemRow], stats: Statistics, plots_dir: PathLike) -> Optional[Path]:
    """Grouped bars: conditions on x, one bar per hybrid system, 95 % intervals."""
    hybrid = [r for r in rows if r.family == "hybrid" and any(r.rate(c, "frame_per") is not None for c in r.scores)]
    if not hybrid:
        return None
    conds = ordered(c for r in hybrid for c in r.scores if r.rate(c, "frame_per") is not None)
    width = 0.8 / len(hybrid)
    fig = Figure(figsize=(max(7.5, 1.3 * len(conds) + 5), 4.5))
    ax = fig.add_subplot(1, 1, 1)
    for k, row in enumerate(hybrid):
        xs, ys, lo, hi = [], [], [], []
        for i, c in enumerate(conds):
            rate = row.rate(c, "frame_per")
            if rate is None:
                continue
            iv = stats.interval(row, c, "frame_per")
            xs.append(i - 0.4 + width * (k + 0.5))
            ys.append(rate)
            low, high = _error_bar(rate, iv)
            lo.append(low)
            hi.append(high)
        ax.bar(xs, ys, width=width, yerr=[lo, hi], capsize=2, label=f"{row.system[len('hybrid_'):] if row.system.startswith('hybrid_') else row.system} ({row.modality})",
               color=f"C{k % 10}", hatch="//" if k >= 10 else None, error_kw={"elinewidth": 0.8})
    ax.set_xticks(range(len(conds)))
    ax.set_xticklabels([c.label for c in conds], rotation=20)
    ax.set_ylabel("frame CD-state error (%)")
    ax.set_title("Hybrid systems: frame-level CD-state (senone) classification error (95 % CI)")
    ax.set_ylim(0, 100)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)  # outside: bars stay visible
    fig.tight_layout()
    path = Path(plots_dir) / "fusion_frame_per.png"
    _save(fig, path)
    return path
