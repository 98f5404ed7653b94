"""The leaderboard's data model: one row per system (× decoding method for E2E systems), one
score per test condition, each score holding per-utterance error counts per metric.

Metrics are kept apart so that no table mixes two of them: ``wer``; ``per`` = PER of a phone-level
decoding (a phone-bigram graph, or an E2E model whose outputs are phones); ``per_word`` = PER of
the word hypotheses mapped to phones with the lexicon; ``frame_per`` = frame-level CD-state
classification error, whose targets (``SystemRow.frame_targets``, e.g. the tri tree's senones)
must match for two rows to share a table.

Seed runs of a system live next to it as ``<exp>/<system>_seed<N>/`` (see :func:`split_seed`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from avsr.leaderboard.conditions import Condition

METRICS = ("wer", "per", "per_word", "frame_per")  # keys of Score.rates / Score.counts
METRIC_NAMES = {"wer": "WER", "per": "PER (phone-level decoding)", "per_word": "PER of the word hypotheses",
                "frame_per": "frame CD-state classification error"}
_SEED_DIR = re.compile(r"^(?P<base>.+)_seed(?P<seed>\d+)$")


def split_seed(system: str) -> tuple[str, Optional[int]]:
    """``hybrid_audio_seed2`` → ("hybrid_audio", 2); ``hybrid_audio`` → ("hybrid_audio", None)."""
    m = _SEED_DIR.match(system)
    return (m.group("base"), int(m.group("seed"))) if m else (system, None)
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
    per_source: Optional[str] = None  # where ``per_word`` came from: "word_decode" | "word_to_phone"
    failures: dict[str, int] = field(default_factory=dict)  # metric -> searches that reached no final state
    speakers: dict[str, str] = field(default_factory=dict)  # utt -> speaker (speaker-cluster bootstrap)
    frame_targets: Optional[str] = None  # frame error's targets, e.g. "tri: 312 CD states"


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
    frame_targets: Optional[str] = None  # what the frame error is measured against, e.g. "tri: 312 CD states"

    @property
    def base_system(self) -> str:
        """The system without its ``_seed<N>`` suffix."""
        return split_seed(self.system)[0]

    @property
    def seed(self) -> Optional[int]:
        """N of a ``<system>_seed<N>`` run; None for the run's main system directory."""
        return split_seed(self.system)[1]

    @property
    def base_key(self) -> str:
        """``key`` with the system's seed suffix removed: the same row across seed runs."""
        return self.base_system + self.key[len(self.system):] if self.key.startswith(self.system) else self.key

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
