"""Markdown tables: rows = systems grouped by family, columns = test conditions present."""
from __future__ import annotations

from typing import Optional, Sequence

from avsr.leaderboard.conditions import Condition, ordered
from avsr.leaderboard.records import SystemRow
from avsr.leaderboard.stats import Comparison, Statistics

MISSING = "–"


def conditions_for(rows: Sequence[SystemRow], metric: str) -> list[Condition]:
    """Conditions (columns) where at least one row has ``metric``, in column order."""
    return ordered(c for r in rows for c in r.scores if r.rate(c, metric) is not None)


def format_cell(row: SystemRow, condition: Condition, metric: str, stats: Statistics) -> str:
    """``12.3 [10.1, 14.6]`` (rate % with 95% interval), the rate alone without per-utterance
    counts, or ``–`` when the system was not scored there."""
    rate = row.rate(condition, metric)
    if rate is None:
        return MISSING
    interval = stats.interval(row, condition, metric)
    if interval is None:
        return f"{rate:.1f}"
    return f"{rate:.1f} [{interval.low:.1f}, {interval.high:.1f}]"


def metric_table(rows: Sequence[SystemRow], metric: str, stats: Statistics) -> str:
    """One markdown table for ``metric``; a bold line opens each family. Empty string if no row has it."""
    rows = [r for r in rows if any(r.rate(c, metric) is not None for c in r.scores)]
    conds = conditions_for(rows, metric)
    if not rows:
        return ""
    lines = ["| system | input | method | " + " | ".join(c.label for c in conds) + " |",
             "|---|---|---|" + "---:|" * len(conds)]
    family: Optional[str] = None
    for r in rows:
        if r.family != family:
            family = r.family
            lines.append(f"| **{family}** | | |" + " |" * len(conds))
        cells = [format_cell(r, c, metric, stats) for c in conds]
        lines.append(f"| {r.system}{f' (no-{r.dropped})' if r.dropped else ''} | {r.modality} | {r.method or '–'} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def format_comparison(cmp: Optional[Comparison]) -> str:
    """``-3.2 (-25 %), P=0.990 **better**``: Δ points (relative to A), P(B better), and a
    significance mark when B is better / worse at p < 0.05."""
    if cmp is None:
        return MISSING
    rel = cmp.relative[0]
    rel_text = f"{rel:+.0f} %" if rel == rel else "n/a"
    mark = " **better**" if cmp.b_significantly_better else " **worse**" if cmp.b_significantly_worse else ""
    return f"{cmp.paired.delta:+.1f} ({rel_text}), P={cmp.prob_b_better:.3f}{mark}"
