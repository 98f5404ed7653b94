"""AV vs audio-only comparisons: which pairs exist, and the per-condition significance table."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

from avsr.leaderboard.collect import method_rank
from avsr.leaderboard.conditions import ordered
from avsr.leaderboard.records import SystemRow
from avsr.leaderboard.stats import Statistics
from avsr.leaderboard.tables import format_comparison

DEFAULT_E2E_METHODS = {"CTC+attention": "ctc_prefix_beam", "transducer": "modified_beam"}


def plain_rows(rows: Sequence[SystemRow]) -> list[SystemRow]:
    """Rows tested with every stream the system was trained on (no dropped-stream rows)."""
    return [r for r in rows if r.dropped is None]


def av_vs_a_pairs(rows: Sequence[SystemRow]) -> list[tuple[SystemRow, SystemRow]]:
    """(audio-only row, AV row) for every family having both, matched on the decoding method.
    The first audio-only row in table order is the reference when a family has several."""
    pairs = []
    for av in plain_rows(rows):
        if av.base_modality != "AV":
            continue
        refs = [r for r in plain_rows(rows) if r.family == av.family and r.method == av.method and r.modality == "A"]
        if refs:
            pairs.append((refs[0], av))
    return pairs


def representative_method(rows: Sequence[SystemRow], family: str, preferred: Mapping[str, str] = DEFAULT_E2E_METHODS) -> str:
    """The decoding method standing for an E2E family in plots and claims: the preferred one
    when it was decoded, else the first in METHOD_ORDER ("" for GMM / hybrid rows)."""
    methods = sorted({r.method for r in rows if r.family == family}, key=method_rank)
    if not methods:
        return ""
    want = preferred.get(family)
    return want if want in methods else methods[0]


def significance_table(rows: Sequence[SystemRow], stats: Statistics, metric: str = "wer") -> str:
    """Markdown: one line per (A, AV) pair, one column per condition both were scored on."""
    pairs = [(a, av) for a, av in av_vs_a_pairs(rows)
             if any(stats.compare(a, av, c, metric) is not None for c in av.scores)  # pairs having the metric
             and (metric != "frame_per" or a.frame_targets == av.frame_targets)]  # frame errors: same targets only
    if not pairs:
        return ""
    conds = ordered(c for a, b in pairs for c in a.scores if stats.compare(a, b, c, metric) is not None)
    lines = ["| family | AV system | vs A system | method | " + " | ".join(c.label for c in conds) + " |",
             "|---|---|---|---|" + "---:|" * len(conds)]
    for a, av in pairs:
        cells = [format_comparison(stats.compare(a, av, c, metric)) for c in conds]
        lines.append(f"| {av.family} | {av.system} | {a.system} | {av.method or '–'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def find_row(rows: Sequence[SystemRow], family: str, method: str, predicate) -> Optional[SystemRow]:
    """First plain row of ``family`` decoded with ``method`` for which ``predicate(row)`` holds."""
    for r in plain_rows(rows):
        if r.family == family and r.method == method and predicate(r):
            return r
    return None
