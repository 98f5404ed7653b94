"""On-the-fly noise for E2E training: every epoch, each chosen utterance gets fresh noise at a
fresh SNR, and its fbank is recomputed from the mix (Kaldi fbank, the same extractor and options
as stage 3), instead of a fixed noisy copy per utterance.

Noise types:
- ``babble``: the sum of ``babble_talkers`` other training utterances (other speakers than the
  target's when the corpus has several), each at equal RMS, at random offsets — the babble of the
  test sets is made from talkers never used in training (stage 2), so this is matched in kind,
  not in talkers;
- ``white``: Gaussian noise.

SNR is measured as in stage 2 (lhotse ``cut.mix(snr=...)``): mean power of the speech over the
whole utterance against the mean power of the added noise. Every draw comes from the generator
the caller passes (the loop seeds it per epoch and rank), so a run is reproducible and a
resumed run repeats what an uninterrupted one does.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from avsr.features.audio import compute_fbank
from avsr.train.data import FeatureCache, Utterance
from avsr.utils.errors import AvsrInputError

NOISE_TYPES = ("babble", "white")


@dataclass
class NoiseAugmentConfig:
    from_epoch: int = 0  # 0 = never; else mix noise into training utterances from this epoch on
    prob: float = 0.5  # share of utterances that get noise
    snr_db: list = field(default_factory=lambda: [-5.0, 20.0])  # uniform in [low, high]
    types: list = field(default_factory=lambda: list(NOISE_TYPES))
    babble_talkers: list = field(default_factory=lambda: [3, 6])  # inclusive range

    def __post_init__(self) -> None:  # here, not in OnTheFlyNoise: the loop builds none when from_epoch is 0
        problem = None
        if int(self.from_epoch) < 0:
            problem = f"from_epoch must be >= 0 (0 = never), got {self.from_epoch}"
        elif not 0.0 <= float(self.prob) <= 1.0:
            problem = f"prob must be in [0, 1], got {self.prob}"
        elif len(self.snr_db) != 2 or float(self.snr_db[0]) > float(self.snr_db[1]):
            problem = f"snr_db must be [low, high] with low <= high, got {self.snr_db!r}"
        elif not self.types or any(t not in NOISE_TYPES for t in self.types):
            problem = f"types: {self.types!r}; choose from {NOISE_TYPES}"
        elif len(self.babble_talkers) != 2 or not 1 <= int(self.babble_talkers[0]) <= int(self.babble_talkers[1]):
            problem = f"babble_talkers must be [low, high] with 1 <= low <= high, got {self.babble_talkers!r}"
        if problem:
            raise AvsrInputError(None, f"train.noise.{problem}")


class OnTheFlyNoise:
    """Mixes noise into utterances of a cache that holds waveforms (``FeatureCache(load_audio=True)``)."""

    def __init__(self, cfg: NoiseAugmentConfig, cache: FeatureCache) -> None:
        missing = [i for i in cache.ids() if cache.utts[i].samples is None]
        if missing:
            raise AvsrInputError(None, f"on-the-fly noise needs waveforms: {len(missing)} utterances have none "
                                 f"(first: {missing[0]})")
        self.cfg, self.cache = cfg, cache
        self.ids = cache.ids()
        self.speakers = np.array([cache.utts[i].speaker or "" for i in self.ids])

    def active(self, epoch: int) -> bool:
        return 0 < self.cfg.from_epoch <= epoch

    def _babble(self, utt: Utterance, length: int, rng: np.random.Generator) -> np.ndarray:
        lo, hi = self.cfg.babble_talkers
        talkers = int(rng.integers(lo, hi + 1))
        others = np.flatnonzero(self.speakers != (utt.speaker or ""))
        pool = others if len(others) else np.array([k for k, i in enumerate(self.ids) if i != utt.id])
        if len(pool) == 0:  # a one-utterance corpus: babble of itself, shifted
            pool = np.arange(len(self.ids))
        mix = np.zeros(length, dtype=np.float32)
        for k in rng.choice(pool, size=talkers, replace=len(pool) < talkers):
            x = self.cache.utts[self.ids[int(k)]].samples.astype(np.float32)
            start = int(rng.integers(0, len(x)))
            piece = x[(start + np.arange(length)) % len(x)]  # a random stretch, wrapped around
            mix += piece / (np.sqrt(np.mean(x**2)) + 1e-9)
        return mix

    def mix(self, utt: Utterance, rng: np.random.Generator) -> Utterance:
        """A copy of ``utt`` whose fbank is that of speech + fresh noise (or ``utt`` itself when
        the draw says clean)."""
        if rng.random() >= self.cfg.prob:
            return utt
        speech = utt.samples.astype(np.float64) / 32768.0
        kind = self.cfg.types[int(rng.integers(len(self.cfg.types)))]
        noise = self._babble(utt, len(speech), rng) if kind == "babble" else rng.standard_normal(len(speech))
        snr = float(rng.uniform(*self.cfg.snr_db))
        p_speech, p_noise = np.mean(speech**2), np.mean(noise**2) + 1e-12
        noisy = speech + noise * np.sqrt(p_speech / (p_noise * 10 ** (snr / 10)))
        fbank = compute_fbank(np.clip(noisy, -1.0, 1.0).astype(np.float32))
        n = utt.fbank.shape[0]  # same frame count as stage 3's (same extractor and options)
        if fbank.shape[0] < n:
            fbank = np.concatenate([fbank, np.repeat(fbank[-1:], n - fbank.shape[0], axis=0)])
        return dataclasses.replace(utt, fbank=fbank[:n])


def noise_config(values: Optional[dict]) -> NoiseAugmentConfig:
    from avsr.models.factory import dataclass_from

    return dataclass_from(NoiseAugmentConfig, values, "train.noise")
