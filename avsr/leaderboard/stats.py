"""Bootstrap statistics for the leaderboard (resampling is avsr.score.bootstrap's; this file
only picks the utterances and caches results, so every table cell is computed once).

Table cells get utterance-bootstrap intervals (the test speakers held fixed). Comparisons, where
the page makes a claim, use the speaker-cluster bootstrap (speakers, then their utterances) when
every compared utterance has a speaker label, and say so (``Comparison.resampling``); the
utterance-level p-value is kept next to it to show how much the speakers widen the doubt."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from avsr.leaderboard.conditions import Condition
from avsr.leaderboard.records import SystemRow
import numpy as np

from avsr.score.bootstrap import (Interval, PairedResult, bootstrap_interval, paired_bootstrap,
                                 paired_cluster_bootstrap, resample_weights)


@dataclass(frozen=True)
class Comparison:
    """B vs A on the utterances both were scored on. ``delta`` < 0: B has fewer errors."""

    rate_a: float
    rate_b: float
    paired: PairedResult  # B vs A: p_value = share of resamples where B is not better
    reverse: PairedResult  # A vs B on the same resamples: p_value = share where B is not worse
    num_utts: int
    resampling: str = "utterance"  # "speaker" (speaker-cluster bootstrap) or "utterance"
    num_speakers: int = 0
    utterance_p: Optional[float] = None  # the utterance-bootstrap p of "B better", for comparison

    @property
    def prob_b_better(self) -> float:
        return 1.0 - self.paired.p_value

    @property
    def prob_b_worse(self) -> float:
        return 1.0 - self.reverse.p_value

    @property
    def b_significantly_better(self) -> bool:
        return self.paired.p_value < 0.05

    @property
    def b_significantly_worse(self) -> bool:
        """Tested separately: identical systems (every resampled delta 0) are neither better nor worse."""
        return self.reverse.p_value < 0.05

    @property
    def significant(self) -> bool:
        return self.b_significantly_better or self.b_significantly_worse

    @property
    def relative(self) -> tuple[float, float, float]:
        """Relative change of B vs A in % of A's rate (point, low, high; nan when A is 0)."""
        if self.rate_a <= 0:
            return (float("nan"),) * 3
        f = 100.0 / self.rate_a
        return self.paired.delta * f, self.paired.low * f, self.paired.high * f


class Statistics:
    """Intervals and paired tests with fixed seeds (same inputs → same numbers), cached."""

    def __init__(self, num_samples: int = 1000, seed: int = 0) -> None:
        self.num_samples = num_samples
        self.seed = seed
        self._intervals: dict[tuple, Optional[Interval]] = {}
        self._pairs: dict[tuple, Optional[Comparison]] = {}
        self._cluster_weights: dict[tuple, np.ndarray] = {}

    def interval(self, row: SystemRow, condition: Condition, metric: str) -> Optional[Interval]:
        """Rate with 95% interval; None when the row has no per-utterance counts there."""
        key = (row.key, condition, metric)
        if key not in self._intervals:
            score = row.scores.get(condition)
            counts = score.counts.get(metric) if score else None
            self._intervals[key] = None if counts is None else bootstrap_interval(
                counts.errors, counts.totals, num_samples=self.num_samples, seed=self.seed)
        return self._intervals[key]

    def compare(self, a: SystemRow, b: SystemRow, condition: Condition, metric: str = "wer") -> Optional[Comparison]:
        """Paired bootstrap of b against a on their common utterances (None if there are none):
        speaker-cluster resampling when every common utterance has a speaker, else utterances."""
        key = (a.key, b.key, condition, metric)
        if key not in self._pairs:
            self._pairs[key] = None
            sa, sb = a.scores.get(condition), b.scores.get(condition)
            ca = sa.counts.get(metric) if sa else None
            cb = sb.counts.get(metric) if sb else None
            if ca is not None and cb is not None:
                common = tuple(sorted(set(ca.utts) & set(cb.utts)))
                if common:
                    ca, cb = ca.restricted(common), cb.restricted(common)
                    if ca.totals.sum() > 0 and cb.totals.sum() > 0:
                        self._pairs[key] = self._compare_counts(ca, cb, common, {**sb.speakers, **sa.speakers})
        return self._pairs[key]

    def _compare_counts(self, ca, cb, common: tuple, speakers: dict) -> Comparison:
        # same seed and size → the same resamples in both directions
        utt = paired_bootstrap(ca.errors, cb.errors, ca.totals, num_samples=self.num_samples, seed=self.seed,
                               ref_lens_b=cb.totals)
        clusters = [speakers.get(u) for u in common]
        if all(c is not None for c in clusters):
            w = self._weights(common, tuple(clusters))
            result = paired_cluster_bootstrap(ca.errors, cb.errors, ca.totals, clusters, num_samples=self.num_samples,
                                              seed=self.seed, ref_lens_b=cb.totals, weights=w)
            reverse = paired_cluster_bootstrap(cb.errors, ca.errors, cb.totals, clusters, num_samples=self.num_samples,
                                               seed=self.seed, ref_lens_b=ca.totals, weights=w)
            return Comparison(ca.rate, cb.rate, result, reverse, len(common), "speaker", len(set(clusters)),
                              1.0 - utt.p_value)
        reverse = paired_bootstrap(cb.errors, ca.errors, cb.totals, num_samples=self.num_samples, seed=self.seed,
                                   ref_lens_b=ca.totals)
        return Comparison(ca.rate, cb.rate, utt, reverse, len(common), "utterance", 0, 1.0 - utt.p_value)

    def _weights(self, utts: tuple, clusters: tuple) -> np.ndarray:
        key = (utts, clusters)
        if key not in self._cluster_weights:
            self._cluster_weights[key] = resample_weights(len(utts), self.num_samples, self.seed, list(clusters))
        return self._cluster_weights[key]
