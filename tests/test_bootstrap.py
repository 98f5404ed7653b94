"""Bootstrap intervals cover the true rate at about the nominal level; the paired test detects real gains."""
from __future__ import annotations

import numpy as np
import pytest

from avsr.score.bootstrap import bootstrap_interval, paired_bootstrap


def test_interval_contains_point_estimate_and_is_deterministic():
    rng = np.random.default_rng(0)
    lens = rng.integers(4, 10, size=200)
    errs = rng.binomial(lens, 0.2)
    a = bootstrap_interval(errs, lens, seed=1)
    assert a.low < a.rate < a.high
    assert a == bootstrap_interval(errs, lens, seed=1)
    assert a.rate == pytest.approx(100 * errs.sum() / lens.sum())


def test_coverage_is_near_nominal():
    """Over 200 simulated test sets, the 95% interval holds the true 20% rate about 95% of the time."""
    rng = np.random.default_rng(1)
    hits = 0
    for trial in range(200):
        lens = np.full(150, 6)
        errs = rng.binomial(lens, 0.2)
        ci = bootstrap_interval(errs, lens, num_samples=400, seed=trial)
        hits += ci.low <= 20.0 <= ci.high
    assert 0.88 <= hits / 200 <= 0.99


def test_paired_bootstrap_detects_improvement_and_not_noise():
    rng = np.random.default_rng(2)
    lens = np.full(300, 6)
    a = rng.binomial(lens, 0.3)
    better = np.maximum(a - rng.binomial(1, 0.5, size=300), 0)  # B fixes an error in half the utterances
    res = paired_bootstrap(a, better, lens)
    assert res.delta < 0 and res.high < 0 and res.p_value < 0.01
    same = paired_bootstrap(a, a, lens)
    assert same.delta == 0 and same.p_value == 1.0


def test_bad_shapes():
    with pytest.raises(ValueError):
        bootstrap_interval([1, 2], [3])
    with pytest.raises(ValueError):
        bootstrap_interval([], [])
