"""On-the-fly speed perturbation: audio, video and frame labels are retimed together."""
from __future__ import annotations

import numpy as np
import pytest

from avsr.features.audio import compute_fbank
from avsr.train.data import Utterance
from avsr.train.speed_aug import SpeedPerturb, SpeedPerturbConfig
from avsr.utils.errors import AvsrInputError


def utterance(seconds: float = 2.0) -> Utterance:
    t = np.arange(int(16000 * seconds)) / 16000
    samples = np.round(0.3 * np.sin(2 * np.pi * 300 * t) * 32768).astype(np.int16)
    fbank = compute_fbank(samples / 32768.0)
    video = np.arange(int(25 * seconds))[:, None, None].repeat(4, 1).repeat(4, 2).astype(np.uint8)  # frame t shows t
    labels = (np.arange(-(-fbank.shape[0] // 4)) // 10).astype(np.int16)
    return Utterance("u", fbank, video, "bin blue", seconds, samples=samples, frame_labels=labels)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_everything_timed_follows_the_speed(factor: float) -> None:
    u = utterance()
    out = SpeedPerturb(SpeedPerturbConfig(from_epoch=1, factors=[factor]))(u, np.random.default_rng(0))
    assert out.fbank.shape[0] == pytest.approx(u.fbank.shape[0] / factor, abs=2)
    assert len(out.samples) == pytest.approx(len(u.samples) / factor, abs=2)
    assert len(out.roi) == round(len(u.roi) * out.fbank.shape[0] / u.fbank.shape[0])
    assert len(out.frame_labels) == -(-out.fbank.shape[0] // 4)
    # the video and the labels are stretched, in order, from first to last
    assert out.roi[0, 0, 0] == 0 and out.roi[-1, 0, 0] == len(u.roi) - 1
    assert np.all(np.diff(out.roi[:, 0, 0].astype(int)) >= 0) and np.all(np.diff(out.frame_labels) >= 0)
    assert out.duration == pytest.approx(u.duration / factor)
    assert u.fbank.shape[0] == compute_fbank(u.samples / 32768.0).shape[0]  # the original is untouched


def test_factor_one_is_the_same_utterance_and_bad_factors_are_refused() -> None:
    u = utterance()
    assert SpeedPerturb(SpeedPerturbConfig(from_epoch=1, factors=[1.0]))(u, np.random.default_rng(0)) is u
    with pytest.raises(AvsrInputError, match="factors"):
        SpeedPerturbConfig(from_epoch=1, factors=[3.0])
    with pytest.raises(AvsrInputError, match="factors"):  # refused even while off: a typo is not silently ignored
        SpeedPerturbConfig(from_epoch=0, factors=[])
    with pytest.raises(AvsrInputError, match="from_epoch"):  # negative is not a way to say "never"
        SpeedPerturbConfig(from_epoch=-1)
