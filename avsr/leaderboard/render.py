"""Assemble RESULTS.md from the pieces (tables, significance, claims, plots, provenance)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from avsr.leaderboard.records import SystemRow

PER_SOURCES = {
    "phone_decode": "phone-level decoding (phone-bigram graph)",
    "word_decode": "word hypotheses of the WFST decode mapped to phones with the lexicon",
    "word_to_phone": "E2E word hypotheses and references mapped to phones with the lexicon (first pronunciation)",
}


def per_source_note(rows: Sequence[SystemRow]) -> str:
    """Which rows' PER, in which conditions, comes from phone decoding and which from word → phone
    mapping (the recipe decodes phones only in its focus conditions)."""
    names: dict[str, list[str]] = {}
    conditions: dict[str, list[str]] = {}
    for r in rows:
        for score in r.scores.values():
            if not score.per_source or "per" not in score.rates:
                continue
            name = r.key.split(" / ")[0]
            if name not in names.setdefault(score.per_source, []):
                names[score.per_source].append(name)
            if score.condition.label not in conditions.setdefault(score.per_source, []):
                conditions[score.per_source].append(score.condition.label)
    lines = [f"- {PER_SOURCES.get(source, source)}: {', '.join(keys)} (conditions: {', '.join(conditions[source])})"
             for source, keys in names.items()]
    return "PER sources:\n" + "\n".join(lines) + "\n" if lines else ""


def decode_dirs_note(rows: Sequence[SystemRow]) -> str:
    dirs = sorted({f"{r.system}/{r.decode_dir}" for r in rows if r.decode_dir})
    if not dirs:
        return ""
    return ("E2E rows are read from the latest decode directory of each system (highest epoch, then average): "
            + ", ".join(f"`{d}`" for d in dirs) + ".\n")


def plot_links(plots: Sequence[Path], out_path: Path) -> str:
    """Markdown image links relative to RESULTS.md."""
    lines = []
    for p in plots:
        rel = os.path.relpath(Path(p).resolve(), Path(out_path).resolve().parent)
        lines += [f"- [{Path(p).name}]({rel})", "", f"  ![{Path(p).stem}]({rel})", ""]
    return "\n".join(lines) + "\n" if lines else "No plot (no babble/clean WER or hybrid frame PER to draw).\n"


def section(title: str, *parts: str) -> str:
    body = "\n".join(p.rstrip("\n") + "\n" for p in parts if p)
    return f"## {title}\n\n{body}\n"
