"""Bootstrap statistics for the leaderboard (resampling is avsr.score.bootstrap's; this file
only picks the utterances and caches results, so every table cell is computed once)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from avsr.leaderboard.conditions import Condition
from avsr.leaderboard.records import SystemRow
from avsr.score.bootstrap import Interval, PairedResult, bootstrap_interval, paired_bootstrap


@dataclass(frozen=True)
class Comparison:
    """B vs A on the utterances both were scored on. ``delta`` < 0: B has fewer errors."""

    rate_a: float
    rate_b: float
    paired: PairedResult  # B vs A: p_value = share of resamples where B is not better
    reverse: PairedResult  # A vs B on the same resamples: p_value = share where B is not worse
    num_utts: int

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
        """Paired bootstrap of b against a on their common utterances (None if there are none)."""
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
                        # same seed and size → the same resamples in both directions
                        result = paired_bootstrap(ca.errors, cb.errors, ca.totals, num_samples=self.num_samples,
                                                  seed=self.seed, ref_lens_b=cb.totals)
                        reverse = paired_bootstrap(cb.errors, ca.errors, cb.totals, num_samples=self.num_samples,
                                                   seed=self.seed, ref_lens_b=ca.totals)
                        self._pairs[key] = Comparison(ca.rate, cb.rate, result, reverse, len(common))
        return self._pairs[key]
