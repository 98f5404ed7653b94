"""Unseen-voices protocol: dev/test voices have variants no training voice has (accents training
also has); test_unseenaccent's voices have neither an accent nor a variant heard in training."""
from __future__ import annotations

import pytest

from avsr.corpora.synthetic.espeak_tts import check_voice
from avsr.corpora.synthetic.speakers import (
    BASE_VOICES,
    UNSEEN_BASE_VOICES,
    UNSEEN_VARIANTS,
    VARIANTS,
    make_corpus_speakers,
    make_shared_corpus_speakers,
    make_speakers,
)

UA = "test_unseenaccent"
DEFAULT = {"train": 14, "dev": 3, "test": 3, UA: 3}
PRESETS = [(DEFAULT, 8), ({"train": 2, "dev": 1, "test": 1, UA: 1}, 2), ({"train": 6, "dev": 2, "test": 2, UA: 3}, 8),
           ({"train": 14, "dev": 3, "test": 3}, 8)]  # the last: unseen_accent_speakers 0


def _bases(spks):
    return {s.base_voice for s in spks}


@pytest.mark.parametrize("counts,noise", PRESETS)
@pytest.mark.parametrize("seed", [1234, 7])
def test_held_out_voices_are_unseen(counts, noise, seed):
    groups = make_corpus_speakers(counts, seed, noise_talkers=noise, verify=False)
    assert {g: len(v) for g, v in groups.items()} == {**counts, "noise": noise}
    train_bases = _bases(groups["train"])
    # test (and dev): accents training has; test_unseenaccent: accents no other split has
    for group in ("dev", "test"):
        assert _bases(groups[group]) <= train_bases
    if UA in counts:
        assert len(_bases(groups[UA])) == (counts[UA] + 1) // 2
        assert not _bases(groups[UA]) & (train_bases | _bases(groups["dev"]) | _bases(groups["test"]))
        assert len(train_bases) == min(counts["train"], len(UNSEEN_BASE_VOICES) - len(_bases(groups[UA])))
    # variants: disjoint across every group, the noise talkers (babble only) included
    variants = {g: {s.variant for s in spks} for g, spks in groups.items()}
    for a in groups:
        for b in groups:
            assert a == b or not variants[a] & variants[b], (a, b)
    # test prefers accents dev does not have
    if counts["test"] <= len(train_bases) - len(_bases(groups["dev"])):
        assert not _bases(groups["dev"]) & _bases(groups["test"])
    # Ids run over the splits in order; genders alternate across them; no voice twice in a split.
    ids = [s.speaker_id for g in counts for s in groups[g]]
    assert ids == [f"s{i + 1:02d}" for i in range(sum(counts.values()))]
    assert [s.gender for g in counts for s in groups[g]] == ["female", "male"] * (len(ids) // 2) + ["female"] * (len(ids) % 2)
    for group, spks in groups.items():
        assert len({s.voice.name for s in spks}) == len(spks) or group == "train"


def test_deterministic_and_seeded():
    a = make_corpus_speakers(DEFAULT, 3, noise_talkers=8, verify=False)
    assert a == make_corpus_speakers(DEFAULT, 3, noise_talkers=8, verify=False)
    assert a != make_corpus_speakers(DEFAULT, 4, noise_talkers=8, verify=False)


def test_too_many_held_out_speakers_is_an_error():
    with pytest.raises(ValueError, match="unseen_voices: false"):
        make_corpus_speakers({"train": 4, "dev": 8, "test": 8}, 1, noise_talkers=8, verify=False)


def test_every_pool_voice_exists_in_espeak():
    # A bad name would make espeak keep the previous voice silently.
    for base in UNSEEN_BASE_VOICES:
        check_voice(base)
    for variants in UNSEEN_VARIANTS.values():
        for variant in variants:
            check_voice(f"{UNSEEN_BASE_VOICES[0]}+{variant}")


def test_unknown_group_is_an_error():
    with pytest.raises(ValueError, match="unknown speaker groups"):
        make_corpus_speakers({"train": 2, "eval": 1}, 1, verify=False)


def test_shared_protocol_unseen_accent_set():
    # train/dev/test exactly as make_speakers; test_unseenaccent from what the shared pool lacks
    groups = make_shared_corpus_speakers(DEFAULT, 1234, noise_talkers=8, verify=False)
    assert [s for g in ("train", "dev", "test") for s in groups[g]] == make_speakers(20, 1234, verify=False)
    assert groups["noise"] == make_corpus_speakers({"train": 1}, 1234, noise_talkers=8, verify=False)["noise"]
    ua = groups[UA]
    assert [s.speaker_id for s in ua] == ["s21", "s22", "s23"]
    assert _bases(ua) and not _bases(ua) & set(BASE_VOICES)
    shared_variants = {v for vs in VARIANTS.values() for v in vs}
    assert not {s.variant for s in ua} & (shared_variants | {s.variant for s in groups["noise"]})
    assert "noise" in groups and UA not in make_shared_corpus_speakers({"train": 2, "dev": 1, "test": 1}, 1, verify=False)


def test_shared_protocol_is_unchanged():
    # The shared-voice allocation of the corpus before issue 13 (same seed, same voices): the
    # default preset's test speakers s18-s20 share accent and variant with training speakers.
    voices = [s.voice.name for s in make_speakers(20, 1234, verify=False)]
    assert voices[:4] == ["en+f2", "en-gb-x-rp+m8", "en-gb-scotland+f4", "en-us+m7"]
    assert voices[17:] == ["en-us-nyc+m8", "en+f5", "en-gb-x-rp+m7"]
    assert {"en-us-nyc", "m8"} <= {part for v in voices[:14] for part in v.split("+")}
