"""Stage 2: noisy mixes hit their SNR, are deterministic, keep the clean video."""
from __future__ import annotations

import numpy as np
import pytest
from lhotse import RecordingSet

from avsr.corpora.grid.grammar import grid_vocabulary
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


# ---- stage 2 protocol: training noise != test noise (issue 13) --------------------------------

def _stage2_inputs(toy_records, tmp_path, noise_talkers: bool = True):
    """Manifests of a toy corpus (train = s01, test = s02) and, optionally, a noise-talker index."""
    import soundfile as sf

    from avsr.data.manifests import manifest_path, save_cuts
    from avsr.data.records import write_records
    from avsr.data.types import UttRecord

    manifests = tmp_path / "data" / "manifests"
    for split, spk in (("train", "s01"), ("test", "s02")):
        _, _, cuts, _ = build_manifests([r for r in toy_records if r.speaker == spk], grid_vocabulary())
        save_cuts(cuts, manifest_path(manifests, "toy", "cuts", split))
    index = tmp_path / "data" / "local" / "toy"
    index.mkdir(parents=True)
    if noise_talkers:
        recs = []
        for i, rec in enumerate(toy_records[:2]):  # any audio will do: a different tone per talker
            wav = tmp_path / "noise_talkers" / f"n0{i + 1}_u.wav"
            wav.parent.mkdir(parents=True, exist_ok=True)
            audio, sr = sf.read(rec.audio_path)
            sf.write(wav, np.roll(audio, 1000 * (i + 1)), sr, subtype="PCM_16")
            recs.append(UttRecord(f"n0{i + 1}_u", f"n0{i + 1}", str(wav), None, rec.text))
        write_records(index / "noise_talkers.jsonl", recs)
    conf = {
        "noise_types": ["white", "babble"], "snrs_db": [0], "noisy_splits": ["test"], "test_noise": "unmatched",
        "matched_test_sets": {"noise_types": ["babble"], "snrs_db": [0]},
        "babble": {"num_recordings": 2, "num_talkers": 2, "duration_s": 4.0, "source_split": "train",
                   "test_sources": ["noise_talkers", "dev"]},
        "white": {"num_recordings": 1, "duration_s": 4.0},
        "multi_condition_train": {"enabled": True, "clean_prob": 0.0, "snrs_db": [0]},
    }
    return manifests, index, conf


def _noise_ids(cuts) -> set[str]:
    return {t.cut.recording.id for c in cuts if hasattr(c, "tracks") for t in c.tracks[1:]}


def test_test_noise_is_never_training_noise(toy_records, tmp_path):
    from avsr.data.manifests import load_cuts, manifest_path
    from avsr.data.noise_sets import make_noisy_sets

    manifests, index, conf = _stage2_inputs(toy_records, tmp_path)
    noise_dir = tmp_path / "data" / "noise"
    record = make_noisy_sets(manifests, "toy", noise_dir, conf, seed=3, index_dir=index)
    train = RecordingSet.from_file(noise_dir / "train_noise_recordings.jsonl.gz")
    test = RecordingSet.from_file(noise_dir / "test_noise_recordings.jsonl.gz")
    assert sorted(train.ids) == ["babble_train_00", "babble_train_01", "white_train_00"]
    assert sorted(test.ids) == ["babble_test_00", "babble_test_01", "white_test_00"]
    for a, b in zip(sorted(train, key=lambda r: r.id), sorted(test, key=lambda r: r.id)):
        assert not np.allclose(a.load_audio(), b.load_audio())  # other talkers, other seeds
    assert record["test"]["babble_talkers"] == ["n01", "n02"] and record["train"]["babble_talkers"] == ["s01"]
    load = lambda name: load_cuts(manifest_path(manifests, "toy", "cuts", name))  # noqa: E731
    assert _noise_ids(load("test_babble_snr0")) <= set(test.ids) and _noise_ids(load("test_white_snr0")) <= set(test.ids)
    assert _noise_ids(load("test_babblematched_snr0")) <= set(train.ids)
    assert _noise_ids(load("train_multi")) <= set(train.ids) and _noise_ids(load("train_multi"))
    assert record["sets"]["test_babble_snr0"] == "test noise" and record["sets"]["train_multi"] == "training noise"
    # Same inputs: nothing is remade; the training babble keeps the seeds stage 2 always used.
    mtime = (noise_dir / "test" / "babble_test_00.wav").stat().st_mtime_ns
    assert make_noisy_sets(manifests, "toy", noise_dir, conf, seed=3, index_dir=index) == record
    assert (noise_dir / "test" / "babble_test_00.wav").stat().st_mtime_ns == mtime
    assert record["train"]["babble_seeds"] == [3000, 3001] and record["train"]["white_seeds"] == [3]


def test_matched_protocol_and_fallback_are_explicit(toy_records, tmp_path, caplog):
    from avsr.data.manifests import load_cuts, manifest_path
    from avsr.data.noise_sets import make_noisy_sets

    manifests, index, conf = _stage2_inputs(toy_records, tmp_path, noise_talkers=False)
    noise_dir = tmp_path / "data" / "noise"
    # No held-out talkers (no noise talkers, no dev): a loud fallback, recorded as matched.
    with caplog.at_level("WARNING"):
        record = make_noisy_sets(manifests, "toy", noise_dir, conf, seed=3, index_dir=index)
    assert "falls back to TRAINING talkers" in caplog.text and record["test"]["babble_matched"]
    # The protocol before issue 13: every test set mixed with the training noise.
    conf["test_noise"] = "matched"
    record = make_noisy_sets(manifests, "toy", noise_dir, conf, seed=3, index_dir=index)
    assert not (noise_dir / "test_noise_recordings.jsonl.gz").exists()
    assert _noise_ids(load_cuts(manifest_path(manifests, "toy", "cuts", "test_babble_snr0"))) <= {
        "babble_train_00", "babble_train_01"}
    assert "test_babblematched_snr0" not in record["sets"]


def test_noise_bank_segments_and_mix_at_snr(cuts_and_noise, tmp_path):
    import random

    from avsr.data.noise import NoiseBank, mix_at_snr

    cuts, noise = cuts_and_noise
    bank = NoiseBank(noise)
    assert bank.noise_types == ["babble", "white"]
    rid, seg = bank.segment(16000, random.Random(1), "babble")
    assert rid.startswith("babble_") and seg.shape == (16000,)
    assert bank.segment(16000, random.Random(1), "babble")[1].tobytes() == seg.tobytes()  # seeded
    _, long = bank.segment(16000 * 12, random.Random(2))  # longer than any recording: tiled
    assert long.shape == (16000 * 12,)
    speech = cuts[0].load_audio()[0]
    for snr in (10, 0, -5):
        _, n = bank.segment(len(speech), random.Random(snr), "white")
        mixed = mix_at_snr(speech, n, snr)
        measured = 10 * np.log10(np.mean(speech**2) / np.mean((mixed - speech) ** 2))
        assert abs(measured - snr) < 0.01
    with pytest.raises(ValueError):
        bank.segment(100, random.Random(0), "pink")
