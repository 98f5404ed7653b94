"""The leaderboard's data model: one row per system (× decoding method for E2E systems), one
score per test condition, each score holding per-utterance error counts per metric."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from avsr.leaderboard.conditions import Condition

METRICS = ("wer", "per", "frame_per")  # keys of Score.rates / Score.counts
FAMILIES = ("GMM", "hybrid", "CTC+attention", "transducer")


@dataclass(frozen=True)
class UttCounts:
    """Per-utterance errors and reference lengths of one metric (utterances sorted by id)."""

    utts: tuple[str, ...]
    errors: np.ndarray
    totals: np.ndarray

    @property
    def rate(self) -> float:
        return 100.0 * float(self.errors.sum()) / max(float(self.totals.sum()), 1e-12)

    def restricted(self, utts: tuple[str, ...]) -> "UttCounts":
        """The same counts on a subset of utterances, in the given order."""
        index = {u: i for i, u in enumerate(self.utts)}
        rows = [index[u] for u in utts]
        return UttCounts(tuple(utts), self.errors[rows], self.totals[rows])


def utt_counts(pairs: dict[str, tuple[float, float]]) -> UttCounts:
    """{utt: (errors, reference length)} → UttCounts."""
    utts = tuple(sorted(pairs))
    return UttCounts(utts, np.array([pairs[u][0] for u in utts], np.float64), np.array([pairs[u][1] for u in utts], np.float64))


@dataclass
class Score:
    """One system on one test set: the rates written in its score file (percent) and, where
    per-utterance counts exist, those counts (needed for intervals and paired tests)."""

    set_name: str
    condition: Condition
    path: Path
    rates: dict[str, float] = field(default_factory=dict)
    counts: dict[str, UttCounts] = field(default_factory=dict)
    per_source: Optional[str] = None  # "phone_decode" | "word_decode" | "word_to_phone"


@dataclass
class SystemRow:
    """A leaderboard row. ``key`` is unique: the system name, plus the method for E2E rows and
    ``(no-<stream>)`` when a stream was dropped at test time."""

    key: str
    system: str
    family: str
    modality: str  # "A", "V", "AV", or e.g. "A(of AV-bilinear)"
    method: str = ""
    dropped: Optional[str] = None
    fusion: Optional[str] = None
    decode_dir: Optional[str] = None
    scores: dict[Condition, Score] = field(default_factory=dict)

    @property
    def base_modality(self) -> str:
        """A / V / AV without the "(of …)" note."""
        return self.modality.split("(")[0]

    def rate(self, condition: Condition, metric: str) -> Optional[float]:
        s = self.scores.get(condition)
        if s is None:
            return None
        if metric in s.rates:
            return s.rates[metric]
        return s.counts[metric].rate if metric in s.counts else None
