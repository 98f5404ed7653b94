"""Assemble RESULTS.md from the pieces (tables, significance, claims, plots, provenance)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from avsr.leaderboard.records import SystemRow

PER_SOURCES = {
    "word_decode": "word hypotheses of the WFST decode mapped to phones with the lexicon",
    "word_to_phone": "E2E word hypotheses and references mapped to phones with the lexicon (first pronunciation)",
}


def per_word_note(rows: Sequence[SystemRow]) -> str:
    """Where the word-hypothesis PER of each family comes from."""
    names: dict[str, list[str]] = {}
    for r in rows:
        for score in r.scores.values():
            if score.per_source and "per_word" in score.rates and r.system not in names.setdefault(score.per_source, []):
                names[score.per_source].append(r.system)
    lines = [f"- {PER_SOURCES.get(source, source)}: {', '.join(keys)}" for source, keys in names.items()]
    return "Sources:\n" + "\n".join(lines) + "\n" if lines else ""


def speakers_in(rows: Sequence[SystemRow]) -> int:
    return len({s for r in rows for sc in r.scores.values() for s in sc.speakers.values()})


def notes_section(rows: Sequence[SystemRow], num_samples: int, seed: int, num_speakers: int) -> str:
    """How to read the numbers: intervals, tests, failures, metrics, seeds."""
    unlabelled = sorted({r.key for r in rows if any(sc.counts and not sc.speakers for sc in r.scores.values())})
    lines = [
        f"- **Intervals in the tables**: 95 % bootstrap over utterances ({num_samples} resamples, seed {seed}): the "
        "spread of the rate for *these* test speakers. Utterances of one speaker are correlated, so this interval is "
        "too narrow for a statement about new speakers.",
        f"- **Comparisons and claims** (the AV vs audio-only table, every claim): paired **speaker-cluster bootstrap** — "
        f"each resample draws the test speakers of the compared cell with replacement ({num_speakers} "
        f"speaker{'s' if num_speakers != 1 else ''} over all test sets here), then each drawn "
        "speaker's utterances with replacement, the same draw for both systems; P = share of resamples where the "
        "second system has the lower error rate. With few test speakers it is much more cautious than the utterance "
        "bootstrap, whose P the claims quote next to it. A comparison marked `(utt)` had no speaker labels and "
        "fell back to utterances.",
        "- **Search failures**: a cell's superscript counts utterances whose search reached no final state; the best "
        "partial hypothesis is scored (Kaldi's `--allow-partial`), never silently an empty one.",
        "- **One metric per table**: WER; PER of a phone-level decoding; PER of the word hypotheses mapped to phones "
        "(a different metric: the word graph's lexicon constrains it); frame-level state classification error, "
        "one table per target set (a monophone system's ~100 states and the triphone tree's senones are not the "
        "same task).",
        "- **Seeds**: extra training seeds of a system live in `<exp>/<system>_seed<N>/`; the tables show the main "
        "run, the Seeds section the mean ± sd over all seeds, and every claim says for how many seeds it holds.",
    ]
    if unlabelled:
        lines.append("- Rows without speaker labels (utterance bootstrap only): " + ", ".join(unlabelled[:12])
                     + (" …" if len(unlabelled) > 12 else "") + ".")
    return "\n".join(lines) + "\n"


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
