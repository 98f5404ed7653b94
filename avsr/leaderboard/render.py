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
    """Which rows' PER comes from phone decoding and which from word → phone mapping."""
    by_source: dict[str, list[str]] = {}
    for r in rows:
        for source in sorted({s.per_source for s in r.scores.values() if s.per_source and "per" in s.rates}):
            by_source.setdefault(source, []).append(r.key)
    lines = []
    for source, keys in by_source.items():
        names = list(dict.fromkeys(k.split(" / ")[0] for k in keys))
        lines.append(f"- {PER_SOURCES.get(source, source)}: {', '.join(names)}")
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
