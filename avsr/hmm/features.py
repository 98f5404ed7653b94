"""GMM front-end: the first cepstra of the stage-3 MFCC, per-utterance mean normalisation
and delta / delta-delta (Kaldi's add-deltas window of ±2), as Kaldi's train_mono.sh uses."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GmmFeatureConfig:
    num_ceps: int = 13  # of the 24 stored MFCC; Kaldi's GMM recipes use 13
    delta_order: int = 2
    cmn: bool = True  # per-utterance cepstral mean normalisation
    cvn: bool = False

    @property
    def dim(self) -> int:
        return self.num_ceps * (self.delta_order + 1)


def _delta(x: np.ndarray, window: int = 2) -> np.ndarray:
    """Regression deltas over ±window frames, edges replicated (Kaldi's DeltaFeatures)."""
    padded = np.pad(x, ((window, window), (0, 0)), mode="edge")
    num = sum(k * (padded[window + k : window + k + len(x)] - padded[window - k : window - k + len(x)]) for k in range(1, window + 1))
    return num / (2.0 * sum(k * k for k in range(1, window + 1)))


def gmm_features(mfcc: np.ndarray, cfg: GmmFeatureConfig = GmmFeatureConfig()) -> np.ndarray:
    """[T, >=num_ceps] MFCC -> [T, num_ceps * (delta_order + 1)] float32."""
    x = np.asarray(mfcc, dtype=np.float64)[:, : cfg.num_ceps]
    if cfg.cmn:
        x = x - x.mean(axis=0, keepdims=True)
    if cfg.cvn:
        x = x / np.maximum(x.std(axis=0, keepdims=True), 1e-5)
    parts = [x]
    for _ in range(cfg.delta_order):
        parts.append(_delta(parts[-1]))
    return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)
