"""Quick E2E WER table (system × decoding method × condition, with RTF) for bench/bench_e2e.py.

The full report, with bootstrap intervals, PER, significance and plots, is the leaderboard
(avsr.leaderboard, steps/leaderboard.py); this table shares its condition parsing and column
order (avsr.leaderboard.conditions) and its method order."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Union

from avsr.leaderboard.collect import method_rank
from avsr.leaderboard.conditions import CLEAN, Condition, parse_set_name

PathLike = Union[str, Path]


def collect_scores(exp_root: PathLike) -> list[dict[str, Any]]:
    """Every ``<exp_root>/*/decode_*/*/*/score.json``, sorted by system, method, test set."""
    recs = [json.loads(p.read_text()) for p in Path(exp_root).glob("*/decode_*/*/*/score.json")]
    return sorted(recs, key=lambda r: (r["system"], r["method"], r["test_set"]))


def record_condition(rec: dict[str, Any]) -> Condition:
    """The record's test condition (from noise/snr, else from the set name)."""
    if rec.get("noise") == "clean":  # the set name still tells a speaker subset (test_unseenaccent)
        return parse_set_name(rec["test_set"])[1] if rec.get("test_set") else CLEAN
    if rec.get("noise") and rec.get("snr") is not None:
        return Condition(rec["noise"], float(rec["snr"]))
    return parse_set_name(rec["test_set"])[1]


def condition_label(rec: dict[str, Any]) -> str:
    """``clean`` or ``babble 0 dB``."""
    return record_condition(rec).label


def wer_table(records: Iterable[dict[str, Any]]) -> str:
    """Markdown: one row per (system, modality, method), one WER column per condition, plus RTF."""
    rows: dict[tuple[str, str, str], dict[Condition, float]] = defaultdict(dict)
    rtf: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in records:
        key = (r["system"], r["modality"], r["method"])
        rows[key][record_condition(r)] = r["wer"]
        rtf[key].append(r["rtf"])
    conds = sorted({c for cells in rows.values() for c in cells}, key=lambda c: c.sort_key)
    lines = ["| system | input | method | " + " | ".join(f"WER {c.label}" for c in conds) + " | RTF |",
             "|---|---|---|" + "---:|" * (len(conds) + 1)]
    for key in sorted(rows, key=lambda k: (k[0], k[1], method_rank(k[2]))):
        cells = [f"{rows[key][c]:.1f}" if c in rows[key] else "" for c in conds]
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells)
                     + f" | {sum(rtf[key]) / len(rtf[key]):.4f} |")
    return "\n".join(lines)
