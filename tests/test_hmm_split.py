"""Seeded Gaussian splitting: the same inputs give bit-identical models (kaldi-hmm-gmm's own
split draws from std::random_device), with Kaldi's targets and weight/mean bookkeeping."""
from __future__ import annotations

import kaldi_hmm_gmm as khg
import numpy as np

from avsr.hmm.split import split_by_count, split_targets


def _am(num_pdfs: int, dim: int = 3):
    gmm = khg.DiagGmm(1, dim)
    gmm.set_weights(np.array([1.0], np.float32))
    gmm.set_invvars_and_means(np.full((1, dim), 4.0, np.float32), np.ones((1, dim), np.float32))
    gmm.compute_gconsts()
    am = khg.AmDiagGmm()
    am.init(gmm, num_pdfs)
    return am


def test_targets_follow_occupancy_and_min_count():
    targets = split_targets(np.array([100.0, 50.0, 10.0]), 6, power=0.2, min_count=20.0)
    assert targets.tolist() == [2, 2, 1]  # pdf 2 has too few frames for a second Gaussian
    big = split_targets(np.array([1000.0, 500.0, 100.0, 3000.0]), 20, power=0.2, min_count=20.0)
    assert big.sum() == 20 and big[3] == big.max() and big[2] == big.min()


def test_split_is_deterministic_and_keeps_weights_and_centres():
    occ = np.random.default_rng(0).gamma(1.0, 300.0, 20).astype(np.float32)
    a, b, c = _am(20), _am(20), _am(20)
    split_by_count(a, occ, 60, 0.01, 0.25, 20.0, seed=0)
    split_by_count(b, occ, 60, 0.01, 0.25, 20.0, seed=0)
    split_by_count(c, occ, 60, 0.01, 0.25, 20.0, seed=1)
    assert 40 < a.num_gauss <= 60
    for pdf in range(20):
        ga, gb = a.get_pdf(pdf), b.get_pdf(pdf)
        assert np.array_equal(ga.means, gb.means) and np.array_equal(ga.weights, gb.weights)
        assert abs(float(np.sum(ga.weights)) - 1.0) < 1e-6
        # the pieces of a split Gaussian sit symmetrically around the old mean (1.0)
        assert np.allclose(np.average(ga.means, axis=0, weights=ga.weights), 1.0, atol=1e-6)
    assert any(not np.array_equal(a.get_pdf(p).means, c.get_pdf(p).means) for p in range(20))
