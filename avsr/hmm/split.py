"""Deterministic Gaussian splitting ("mixing up") for the GMM-HMM systems.

kaldi-hmm-gmm's ``AmDiagGmm.split_by_count`` perturbs the new means with a generator seeded from
``std::random_device``, so two trainings on the same data differ (and so would every number
downstream). This does the same job with a seeded numpy generator: per-pdf targets by occupancy
(occ ** power, one Gaussian at a time to the pdf with the highest occupancy per Gaussian, never
below ``min_count`` frames per Gaussian), then the heaviest Gaussian of a pdf is split into two
halves whose means move ± ``perturb_factor`` standard deviations along a random direction.
"""
from __future__ import annotations

import heapq

import numpy as np


def split_targets(occupancy: np.ndarray, target_components: int, power: float, min_count: float) -> np.ndarray:
    """Number of Gaussians per pdf for a total of ``target_components``."""
    occupancy = np.asarray(occupancy, np.float64)
    counts = np.ones(len(occupancy), dtype=np.int64)
    # max-heap on occupancy share per Gaussian; pdf index breaks ties (deterministic)
    heap = [(-(occ ** power), pdf) for pdf, occ in enumerate(occupancy)]
    heapq.heapify(heap)
    for _ in range(max(0, target_components - len(occupancy))):
        key, pdf = heapq.heappop(heap)
        if key == 0:
            heapq.heappush(heap, (key, pdf))
            break  # every pdf is at its min-count limit
        if (counts[pdf] + 1) * min_count >= occupancy[pdf]:
            heapq.heappush(heap, (0.0, pdf))  # too little data for another Gaussian
            continue
        counts[pdf] += 1
        heapq.heappush(heap, (-(occupancy[pdf] ** power) / counts[pdf], pdf))
    return counts


def split_gmm(gmm, target: int, perturb_factor: float, rng: np.random.Generator) -> None:
    """Grow one kaldi-hmm-gmm ``DiagGmm`` to ``target`` Gaussians in place."""
    num, dim = gmm.num_gauss, gmm.dim
    if target <= num:
        return
    weights = np.zeros(target, np.float64)
    inv_vars = np.zeros((target, dim), np.float64)
    means_invvars = np.zeros((target, dim), np.float64)
    weights[:num] = np.asarray(gmm.weights, np.float64)
    inv_vars[:num] = np.asarray(gmm.inv_vars, np.float64)
    means_invvars[:num] = np.asarray(gmm.means_invvars, np.float64)
    for new in range(num, target):
        heaviest = int(np.argmax(weights[:new]))
        weights[heaviest] /= 2
        weights[new] = weights[heaviest]
        # means_invvars = mean / var, so a shift of one standard deviation is sqrt(inv_var) here
        step = perturb_factor * rng.standard_normal(dim) * np.sqrt(inv_vars[heaviest])
        inv_vars[new] = inv_vars[heaviest]
        means_invvars[new] = means_invvars[heaviest] + step
        means_invvars[heaviest] -= step
    gmm.resize(target, dim)
    gmm.set_weights(weights.astype(np.float32))
    gmm.set_invvars_and_means(inv_vars.astype(np.float32), (means_invvars / inv_vars).astype(np.float32))
    gmm.compute_gconsts()


def split_by_count(am, occupancy: np.ndarray, target_components: int, perturb_factor: float, power: float,
                   min_count: float, seed: int) -> None:
    """Mix up every pdf of a kaldi-hmm-gmm ``AmDiagGmm`` towards ``target_components`` in total."""
    rng = np.random.default_rng([seed, target_components])
    targets = split_targets(occupancy, target_components, power, min_count)
    for pdf in range(am.num_pdfs):
        split_gmm(am.get_pdf(pdf), int(targets[pdf]), perturb_factor, rng)
