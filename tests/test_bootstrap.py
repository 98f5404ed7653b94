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


def test_speaker_cluster_bootstrap_respects_speakers():
    """Speakers with different error rates: the two-stage (speakers, then utterances) interval
    is much wider than the utterance one, and covers the between-speaker spread; with one
    utterance per speaker it is the utterance bootstrap again."""
    from avsr.score.bootstrap import cluster_bootstrap_interval, paired_cluster_bootstrap, resample_weights

    rng = np.random.default_rng(3)
    lens = np.full(120, 6)
    speakers = [f"s{k // 40}" for k in range(120)]
    errs = np.concatenate([rng.binomial(6, p, size=40) for p in (0.05, 0.2, 0.5)])
    utt = bootstrap_interval(errs, lens, seed=0)
    spk = cluster_bootstrap_interval(errs, lens, speakers, seed=0)
    assert spk.rate == utt.rate
    assert (spk.high - spk.low) > 3 * (utt.high - utt.low)
    assert spk.low < 100 * 0.1 and spk.high > 100 * 0.4  # reaches towards the best / worst speaker
    assert spk == cluster_bootstrap_interval(errs, lens, speakers, seed=0)  # deterministic
    w = resample_weights(120, 50, 0, speakers)
    assert np.all(w.sum(axis=1) == 120) and w.shape == (50, 120)
    single = cluster_bootstrap_interval(errs, lens, [str(k) for k in range(120)], num_samples=2000, seed=1)
    assert single.low == pytest.approx(bootstrap_interval(errs, lens, num_samples=2000, seed=1).low, abs=1.5)
    # paired: B better by one error in every utterance of one speaker only: utterances say
    # "certain", speakers say "a third of the resamples have no such speaker"
    better = errs.copy()
    better[:40] = np.maximum(better[:40] - 1, 0)
    assert paired_bootstrap(errs, better, lens).p_value < 0.01
    p_spk = paired_cluster_bootstrap(errs, better, lens, speakers).p_value
    assert 0.2 < p_spk < 0.45  # P(speaker 0 never drawn) = (2/3)^3 ≈ 0.30
