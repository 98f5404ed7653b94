"""Seed runs: ``<exp>/<system>_seed<N>/`` next to ``<exp>/<system>/`` (the run's main seed).

The main tables show the main seed only; this section shows, for every row that has seed runs,
the WER mean and standard deviation over all its seeds per condition, and the claims say for
how many seeds each holds (avsr.leaderboard.claims)."""
from __future__ import annotations

import statistics
from typing import Sequence

from avsr.leaderboard.conditions import ordered
from avsr.leaderboard.records import SystemRow


def split_seed_rows(rows: Sequence[SystemRow]) -> tuple[list[SystemRow], list[SystemRow]]:
    """(main rows, seed-run rows)."""
    return [r for r in rows if r.seed is None], [r for r in rows if r.seed is not None]


def seed_table(rows: Sequence[SystemRow], metric: str = "wer") -> str:
    """Markdown: one line per main row with seed runs; cells ``mean ± sd (n)`` over the seeds."""
    main, extra = split_seed_rows(rows)
    groups = []
    for r in main:
        runs = [r] + [s for s in extra if s.base_key == r.key and s.dropped == r.dropped]
        # rows without a single rate of this metric (e.g. token searches scored by PER only) are left out
        if len(runs) > 1 and any(x.rate(c, metric) is not None for x in runs for c in x.scores):
            groups.append((r, runs))
    if not groups:
        return ""
    conds = ordered(c for _, runs in groups for x in runs for c in x.scores if x.rate(c, metric) is not None)
    lines = ["| system | input | method | seeds | " + " | ".join(c.label for c in conds) + " |",
             "|---|---|---|---|" + "---:|" * len(conds)]
    for r, runs in groups:
        cells = []
        for c in conds:
            vals = [x.rate(c, metric) for x in runs if x.rate(c, metric) is not None]
            if len(vals) >= 2:
                cells.append(f"{statistics.mean(vals):.1f} ± {statistics.stdev(vals):.1f} ({len(vals)})")
            elif vals:
                cells.append(f"{vals[0]:.1f} (1)")
            else:
                cells.append("–")
        seeds = ", ".join(["main"] + [str(x.seed) for x in runs[1:]])
        lines.append(f"| {r.system}{f' (no-{r.dropped})' if r.dropped else ''} | {r.modality} | {r.method or '–'} | "
                     f"{seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
