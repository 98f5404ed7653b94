"""Stage 2: noisy mixes hit their SNR, are deterministic, keep the clean video."""
from __future__ import annotations

import numpy as np
import pytest
from lhotse import RecordingSet

from avsr.data.grammar import grid_vocabulary
from avsr.data.manifests import build_manifests
from avsr.data.noise import NoiseCondition, make_babble, make_white_noise, measured_snr, mix_condition, multi_condition, parse_conditions
from avsr.data.video_cuts import load_video_frames


@pytest.fixture
def cuts_and_noise(toy_records, tmp_path):
    _, _, cuts, _ = build_manifests(toy_records, grid_vocabulary())
    noise = RecordingSet.from_recordings(
        [
            make_white_noise(tmp_path / "noise" / "white_00.wav", 5.0, 16000, seed=1),
            make_babble(tmp_path / "noise" / "babble_00.wav", cuts, num_talkers=3, duration=5.0, sampling_rate=16000, seed=2),
        ]
    )
    return cuts, noise


@pytest.mark.parametrize("noise_type", ["white", "babble"])
@pytest.mark.parametrize("snr", [20, 0, -5])
def test_mix_reaches_the_requested_snr(cuts_and_noise, noise_type, snr):
    cuts, noise = cuts_and_noise
    noisy = mix_condition(cuts, noise, NoiseCondition(noise_type, snr), seed=7)
    assert len(noisy) == len(cuts)
    for cut in noisy:
        assert cut.id.endswith(f"_{noise_type}_snr{snr}")
        assert abs(measured_snr(cut) - snr) < 0.5
        assert cut.duration == pytest.approx(cut.tracks[0].cut.duration)


def test_mixing_is_deterministic_and_video_stays_clean(cuts_and_noise):
    cuts, noise = cuts_and_noise
    cond = NoiseCondition("babble", 0)
    a = mix_condition(cuts, noise, cond, seed=3)
    b = mix_condition(cuts, noise, cond, seed=3)
    c = mix_condition(cuts, noise, cond, seed=4)
    assert list(a.to_dicts()) == list(b.to_dicts())
    assert list(a.to_dicts()) != list(c.to_dicts())
    np.testing.assert_array_equal(a[0].load_audio(), b[0].load_audio())
    clean = cuts[0]
    np.testing.assert_array_equal(load_video_frames(a[0]), load_video_frames(clean))


def test_multi_condition_train_mixes_some_cuts(cuts_and_noise):
    cuts, noise = cuts_and_noise
    conds = parse_conditions(["white", "babble"], [10, 0])
    multi = multi_condition(cuts, noise, conds, clean_prob=0.5, seed=1)
    assert sorted(c.id.split("_snr")[0].rsplit("_", 1)[0] if "_snr" in c.id else c.id for c in multi) == sorted(cuts.ids)
    with pytest.raises(ValueError):
        parse_conditions(["pink"], [0])
