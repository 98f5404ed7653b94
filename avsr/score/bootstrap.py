"""Bootstrap confidence intervals for error rates (Bisani & Ney, 2004), resampling utterances
or speaker clusters.

An error rate is a ratio of sums (errors / reference length), so utterances are resampled
with replacement and the ratio recomputed; the 2.5th and 97.5th percentiles give the 95%
interval. The paired test resamples the *same* utterances for two systems and reports how
often system B fails to beat system A ("probability of improvement" = 1 - p).

Utterances of one speaker are not independent: with few test speakers, resampling utterances
alone treats the speakers as fixed and gives intervals that are too narrow for a claim about
new speakers. The *speaker-cluster* bootstrap (``clusters=`` speaker labels) is two-stage:
draw speakers with replacement, then, within each drawn speaker, that speaker's utterances
with replacement (Field & Welsh, 2007, "Bootstrapping clustered data"). With S speakers there
are at most C(2S-1, S) distinct speaker draws (10 for S = 3), so its intervals are wide and
lumpy: that is the honest answer for 3 test voices.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class Interval:
    rate: float  # percent, on the full set
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.rate:.2f} [{self.low:.2f}, {self.high:.2f}]"


def _check(errors: Sequence[float], ref_lens: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    e, n = np.asarray(errors, dtype=np.float64), np.asarray(ref_lens, dtype=np.float64)
    if e.shape != n.shape or e.ndim != 1 or len(e) == 0:
        raise ValueError(f"need two equal-length, non-empty 1-d arrays, got {e.shape} and {n.shape}")
    if n.sum() <= 0:
        raise ValueError("total reference length must be positive")
    return e, n


def _resample_indices(num_utts: int, num_samples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, num_utts, size=(num_samples, num_utts))


def bootstrap_interval(
    errors: Sequence[float], ref_lens: Sequence[float], num_samples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """Error rate (%) with its bootstrap confidence interval over utterances."""
    e, n = _check(errors, ref_lens)
    idx = _resample_indices(len(e), num_samples, seed)
    rates = 100.0 * e[idx].sum(axis=1) / np.maximum(n[idx].sum(axis=1), 1e-12)
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(rates, [alpha, 1 - alpha])
    return Interval(100.0 * e.sum() / n.sum(), float(low), float(high))


@dataclass(frozen=True)
class PairedResult:
    delta: float  # rate(B) - rate(A), percent points; negative = B better
    low: float
    high: float
    p_value: float  # share of resamples where B is not better than A (one-sided)


def paired_bootstrap(
    errors_a: Sequence[float],
    errors_b: Sequence[float],
    ref_lens: Sequence[float],
    num_samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    ref_lens_b: Optional[Sequence[float]] = None,
) -> PairedResult:
    """Paired bootstrap of two systems scored on the same utterances (same order).

    ``ref_lens_b``: B's reference lengths when they differ from A's (e.g. phone counts of
    two lexicons); by default both systems share ``ref_lens``."""
    a, n = _check(errors_a, ref_lens)
    b, nb = _check(errors_b, ref_lens if ref_lens_b is None else ref_lens_b)
    if len(a) != len(b):
        raise ValueError(f"systems scored on different numbers of utterances: {len(a)} vs {len(b)}")
    idx = _resample_indices(len(a), num_samples, seed)
    deltas = 100.0 * (b[idx].sum(axis=1) / np.maximum(nb[idx].sum(axis=1), 1e-12) - a[idx].sum(axis=1) / np.maximum(n[idx].sum(axis=1), 1e-12))
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(deltas, [alpha, 1 - alpha])
    return PairedResult(
        delta=100.0 * (b.sum() / nb.sum() - a.sum() / n.sum()), low=float(low), high=float(high), p_value=float(np.mean(deltas >= 0))
    )


def resample_weights(num_utts: int, num_samples: int, seed: int,
                     clusters: Optional[Sequence[object]] = None) -> np.ndarray:
    """[num_samples, num_utts] counts: how often each utterance is drawn in each resample.
    ``clusters`` (one label per utterance, e.g. its speaker): two-stage speaker-cluster draws;
    None: utterances drawn independently (same draws as :func:`bootstrap_interval`)."""
    if clusters is None:
        idx = _resample_indices(num_utts, num_samples, seed)
        w = np.zeros((num_samples, num_utts), np.float64)
        np.add.at(w, (np.repeat(np.arange(num_samples), num_utts), idx.ravel()), 1.0)
        return w
    if len(clusters) != num_utts:
        raise ValueError(f"{len(clusters)} cluster labels for {num_utts} utterances")
    labels = sorted(set(clusters), key=str)
    members = [np.array([i for i, c in enumerate(clusters) if c == lab]) for lab in labels]
    rng = np.random.default_rng(seed)
    # stage 1: how often each speaker is drawn in each resample; stage 2: a speaker drawn m
    # times contributes m * n_c utterance draws from its n_c utterances, i.e. a multinomial
    picks = rng.integers(0, len(labels), size=(num_samples, len(labels)))
    times = np.stack([(picks == k).sum(axis=1) for k in range(len(labels))], axis=1)  # [B, S]
    w = np.zeros((num_samples, num_utts), np.float64)
    for k, utts in enumerate(members):
        w[:, utts] = rng.multinomial(times[:, k] * len(utts), np.full(len(utts), 1.0 / len(utts)))
    return w


def cluster_bootstrap_interval(errors: Sequence[float], ref_lens: Sequence[float], clusters: Sequence[object],
                               num_samples: int = 1000, confidence: float = 0.95, seed: int = 0,
                               weights: Optional[np.ndarray] = None) -> Interval:
    """Error rate (%) with its speaker-cluster bootstrap interval (``clusters``: speaker per utterance)."""
    e, n = _check(errors, ref_lens)
    w = resample_weights(len(e), num_samples, seed, clusters) if weights is None else weights
    rates = 100.0 * (w @ e) / np.maximum(w @ n, 1e-12)
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(rates, [alpha, 1 - alpha])
    return Interval(100.0 * e.sum() / n.sum(), float(low), float(high))


def paired_cluster_bootstrap(
    errors_a: Sequence[float],
    errors_b: Sequence[float],
    ref_lens: Sequence[float],
    clusters: Sequence[object],
    num_samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    ref_lens_b: Optional[Sequence[float]] = None,
    weights: Optional[np.ndarray] = None,
) -> PairedResult:
    """:func:`paired_bootstrap` with speaker-cluster resamples (the same draws for both systems)."""
    a, n = _check(errors_a, ref_lens)
    b, nb = _check(errors_b, ref_lens if ref_lens_b is None else ref_lens_b)
    if len(a) != len(b):
        raise ValueError(f"systems scored on different numbers of utterances: {len(a)} vs {len(b)}")
    w = resample_weights(len(a), num_samples, seed, clusters) if weights is None else weights
    deltas = 100.0 * ((w @ b) / np.maximum(w @ nb, 1e-12) - (w @ a) / np.maximum(w @ n, 1e-12))
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(deltas, [alpha, 1 - alpha])
    return PairedResult(delta=100.0 * (b.sum() / nb.sum() - a.sum() / n.sum()), low=float(low), high=float(high),
                        p_value=float(np.mean(deltas >= 0)))
