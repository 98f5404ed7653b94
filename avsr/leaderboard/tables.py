"""Markdown tables: rows = systems grouped by family, columns = test conditions present.

A cell ``25.6<sup>3</sup> [21.7, 29.2]``: rate, the number of utterances whose search reached no
final state (their best partial hypotheses are scored; omitted when 0), 95 % interval. A system
name followed by a mark (e.g. ``‡``) was flagged by the provenance check (see build.py)."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

from avsr.leaderboard.conditions import Condition, ordered
from avsr.leaderboard.records import SystemRow
from avsr.leaderboard.stats import Comparison, Statistics

MISSING = "–"


def conditions_for(rows: Sequence[SystemRow], metric: str) -> list[Condition]:
    """Conditions (columns) where at least one row has ``metric``, in column order."""
    return ordered(c for r in rows for c in r.scores if r.rate(c, metric) is not None)


def failures_of(row: SystemRow, condition: Condition, metric: str) -> int:
    s = row.scores.get(condition)
    return int(s.failures.get(metric, 0)) if s else 0


def format_cell(row: SystemRow, condition: Condition, metric: str, stats: Statistics) -> str:
    """``12.3 [10.1, 14.6]`` (rate % with 95% interval), ``12.3<sup>4</sup> [...]`` when 4
    searches failed, the rate alone without per-utterance counts, or ``–`` when not scored."""
    rate = row.rate(condition, metric)
    if rate is None:
        return MISSING
    failed = failures_of(row, condition, metric)
    text = f"{rate:.1f}" + (f"<sup>{failed}</sup>" if failed else "")
    interval = stats.interval(row, condition, metric)
    if interval is None:
        return text
    return f"{text} [{interval.low:.1f}, {interval.high:.1f}]"


def has_metric(row: SystemRow, metric: str) -> bool:
    return any(row.rate(c, metric) is not None for c in row.scores)


def metric_table(rows: Sequence[SystemRow], metric: str, stats: Statistics, marks: Optional[Mapping[str, str]] = None) -> str:
    """One markdown table for ``metric``; a bold line opens each family. Empty string if no row has it.
    ``marks``: system -> a flag appended to its name (provenance)."""
    rows = [r for r in rows if has_metric(r, metric)]
    conds = conditions_for(rows, metric)
    if not rows:
        return ""
    marks = marks or {}
    lines = ["| system | input | method | " + " | ".join(c.label for c in conds) + " |",
             "|---|---|---|" + "---:|" * len(conds)]
    family: Optional[str] = None
    for r in rows:
        if r.family != family:
            family = r.family
            lines.append(f"| **{family}** | | |" + " |" * len(conds))
        cells = [format_cell(r, c, metric, stats) for c in conds]
        lines.append(f"| {r.system}{marks.get(r.system, '')}{f' (no-{r.dropped})' if r.dropped else ''} | {r.modality} | "
                     f"{r.method or '–'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def failures_note(rows: Sequence[SystemRow], metric: str) -> str:
    """The footnote for the failure superscripts of one table ("" when no search failed)."""
    total = sum(failures_of(r, c, metric) for r in rows for c in r.scores if r.rate(c, metric) is not None)
    if not total:
        return ""
    cells = sum(1 for r in rows for c in r.scores if r.rate(c, metric) is not None and failures_of(r, c, metric))
    return (f"<sup>N</sup>: N utterances of that cell whose decoder search reached no final state ({total} in {cells} "
            "cells); their best partial hypotheses are scored, as Kaldi's `--allow-partial` does, so the rate counts "
            "what the search found, and a high N says the graph or beam, not only the model, failed.\n")


def format_comparison(cmp: Optional[Comparison]) -> str:
    """``-3.2 (-25 %), P=0.990 **better**``: Δ points (relative to A), P(B better), and a
    significance mark when B is better / worse at p < 0.05."""
    if cmp is None:
        return MISSING
    rel = cmp.relative[0]
    rel_text = f"{rel:+.0f} %" if rel == rel else "n/a"
    mark = " **better**" if cmp.b_significantly_better else " **worse**" if cmp.b_significantly_worse else ""
    how = "" if cmp.resampling == "speaker" else " (utt)"
    return f"{cmp.paired.delta:+.1f} ({rel_text}), P={cmp.prob_b_better:.3f}{how}{mark}"
