"""Collect E2E ``score.json`` records into a WER table (system × decoding method × condition)."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Union

PathLike = Union[str, Path]


def collect_scores(exp_root: PathLike) -> list[dict[str, Any]]:
    """Every ``<exp_root>/*/decode_*/*/*/score.json``, sorted by system, method, test set."""
    recs = [json.loads(p.read_text()) for p in Path(exp_root).glob("*/decode_*/*/*/score.json")]
    return sorted(recs, key=lambda r: (r["system"], r["method"], r["test_set"]))


def condition_label(rec: dict[str, Any]) -> str:
    cond = "clean" if rec["noise"] == "clean" else f"{rec['noise']} {rec['snr']:g} dB"
    return cond


def wer_table(records: Iterable[dict[str, Any]]) -> str:
    """Markdown: one row per (system, modality, method), one WER column per condition, plus RTF."""
    rows: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    rtf: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    conds: list[str] = []
    for r in records:
        key = (r["system"], r["modality"], r["method"])
        c = condition_label(r)
        if c not in conds:
            conds.append(c)
        rows[key][c] = r["wer"]
        rtf[key].append(r["rtf"])
    conds.sort(key=lambda c: (c != "clean", c))
    lines = ["| system | input | method | " + " | ".join(f"WER {c}" for c in conds) + " | RTF |",
             "|---|---|---|" + "---:|" * (len(conds) + 1)]
    for key in sorted(rows):
        cells = [f"{rows[key][c]:.1f}" if c in rows[key] else "" for c in conds]
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells)
                     + f" | {sum(rtf[key]) / len(rtf[key]):.4f} |")
    return "\n".join(lines)
