"""On-the-fly noise for E2E training: the mix hits the drawn SNR, the fbank is what stage 3's
extractor gives for the mix, draws repeat with the same generator, babble comes from other
speakers, and the curriculum switches it on at ``from_epoch``."""
from __future__ import annotations

import numpy as np
import pytest

from avsr.features.audio import compute_fbank
from avsr.train.data import Utterance
from avsr.train.noise_aug import NoiseAugmentConfig, OnTheFlyNoise
from avsr.utils.errors import AvsrInputError


class FakeCache:
    def __init__(self, utts: list[Utterance]) -> None:
        self.utts = {u.id: u for u in utts}

    def ids(self) -> list[str]:
        return sorted(self.utts)


def utterance(i: int, speaker: str, seconds: float = 1.0) -> Utterance:
    t = np.arange(int(16000 * seconds)) / 16000
    x = 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    samples = np.round(x * 32768).astype(np.int16)
    return Utterance(f"u{i}", compute_fbank(samples / 32768.0), None, "bin blue", seconds, speaker=speaker,
                     samples=samples)


@pytest.fixture()
def cache() -> FakeCache:
    return FakeCache([utterance(i, f"s{i % 3}") for i in range(6)])


def test_mix_is_reproducible_and_changes_the_fbank(cache: FakeCache) -> None:
    aug = OnTheFlyNoise(NoiseAugmentConfig(from_epoch=2, prob=1.0, snr_db=[0.0, 0.0]), cache)
    assert not aug.active(1) and aug.active(2) and aug.active(9)
    u = cache.utts["u0"]
    a = aug.mix(u, np.random.default_rng(1))
    b = aug.mix(u, np.random.default_rng(1))
    c = aug.mix(u, np.random.default_rng(2))
    assert a.fbank.shape == u.fbank.shape and np.array_equal(a.fbank, b.fbank)
    assert not np.allclose(a.fbank, u.fbank) and not np.allclose(a.fbank, c.fbank)
    assert a.id == u.id and a.text == u.text and u.fbank is cache.utts["u0"].fbank  # the cache is untouched


@pytest.mark.parametrize("kind", ["white", "babble"])
def test_noise_power_matches_the_snr(cache: FakeCache, kind: str) -> None:
    """Recompute the mix the way OnTheFlyNoise does and check the SNR it implies."""
    aug = OnTheFlyNoise(NoiseAugmentConfig(from_epoch=1, prob=1.0, snr_db=[5.0, 5.0], types=[kind]), cache)
    u = cache.utts["u1"]
    rng = np.random.default_rng(7)
    rng.random()  # the clean-or-not draw
    rng.integers(1)  # the noise type draw
    speech = u.samples / 32768.0
    noise = aug._babble(u, len(speech), rng) if kind == "babble" else rng.standard_normal(len(speech))
    snr = rng.uniform(5.0, 5.0)
    scaled = noise * np.sqrt(np.mean(speech**2) / (np.mean(noise**2) * 10 ** (snr / 10)))
    assert 10 * np.log10(np.mean(speech**2) / np.mean(scaled**2)) == pytest.approx(5.0, abs=1e-6)
    mixed = aug.mix(u, np.random.default_rng(7))
    assert np.allclose(mixed.fbank, compute_fbank(np.clip(speech + scaled, -1, 1).astype(np.float32)), atol=1e-3)


def test_babble_talkers_are_other_speakers(cache: FakeCache) -> None:
    """Utterance i is a tone at 200 + 50 i Hz: a one-talker babble's spectral peak names its source."""
    aug = OnTheFlyNoise(NoiseAugmentConfig(from_epoch=1, prob=1.0, babble_talkers=[1, 1]), cache)
    target = cache.utts["u0"]  # speaker s0, like u3
    rng = np.random.default_rng(0)
    sources = set()
    for _ in range(30):
        mix = aug._babble(target, 16000, rng)
        peak_hz = np.argmax(np.abs(np.fft.rfft(mix)))  # 1 s of audio: bin k = k Hz
        sources.add(int(round((peak_hz - 200) / 50)))
    assert sources and sources.isdisjoint({0, 3}) and sources <= {1, 2, 4, 5}


def test_waveforms_are_required() -> None:
    u = utterance(0, "s0")
    u.samples = None
    with pytest.raises(AvsrInputError, match="needs waveforms"):
        OnTheFlyNoise(NoiseAugmentConfig(from_epoch=1), FakeCache([u]))


@pytest.mark.parametrize("values, field", [
    ({"from_epoch": -1}, "from_epoch"), ({"prob": 1.5}, "prob"), ({"snr_db": [10.0, 0.0]}, "snr_db"),
    ({"snr_db": [5.0]}, "snr_db"), ({"types": ["pink"]}, "types"), ({"babble_talkers": [0, 2]}, "babble_talkers"),
])
def test_bad_settings_are_refused_even_while_off(values: dict, field: str) -> None:
    with pytest.raises(AvsrInputError, match=f"train.noise.{field}"):
        NoiseAugmentConfig(**values)  # from_epoch 0 (off) unless given
