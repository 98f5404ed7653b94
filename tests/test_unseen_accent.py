"""The cross-accent test set test_unseenaccent through the pipeline's generic parts: which sets are
clean splits (stages 1, 3, 6), the decoders' condition parsing, and its leaderboard column."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from avsr.corpora.synthetic.config import CorpusConfig, load_preset
from avsr.data.splits import base_split, clean_splits, cut_set_names, index_splits, is_clean_split
from avsr.e2e.decode_jobs import parse_condition
from avsr.e2e.report import record_condition
from avsr.leaderboard import LeaderboardOptions, build_leaderboard, collect_rows
from avsr.leaderboard.conditions import CLEAN, Condition, ordered, parse_set_name
from avsr.utils.errors import AvsrInputError
from tests.test_leaderboard import LEXICON, NUM_UTTS, write_e2e, write_summary

REPO = Path(__file__).resolve().parents[1]
UA = "test_unseenaccent"


def test_clean_splits_and_bases():
    names = ["train", "train_multi", "dev", "test", UA, "test_babble_snr0", "test_babble_snr-5", "test_white_snr10",
             "test_babblematched_snr0", f"{UA}_babble_snr0", "noise_talkers", "test_"]
    assert clean_splits(names) == ["train", "dev", "test", UA]
    assert [base_split(n) for n in ("test", UA, "test_babble_snr-5", "test_babblematched_snr0", f"{UA}_white_snr0")] == [
        "test", UA, "test", "test", UA]
    assert is_clean_split("dev_other") and not is_clean_split("train_multi") and not is_clean_split("noise_talkers")


def test_index_and_cut_set_discovery(tmp_path):
    for name in ("train", "dev", "test", UA, "noise_talkers"):
        (tmp_path / f"{name}.jsonl").write_text("")
    assert index_splits(tmp_path) == ["train", "dev", "test", UA]  # noise talkers are no split
    assert index_splits(tmp_path / "missing") == ["train", "dev", "test"]
    for name in ("test", UA, "test_babble_snr0"):
        (tmp_path / f"c_cuts_{name}.jsonl.gz").write_text("")
    assert cut_set_names(tmp_path, "c") == ["test", "test_babble_snr0", UA]


def test_config_key_and_splits():
    assert load_preset("default").splits == ("train", "dev", "test", UA)
    assert load_preset("default").unseen_accent_speakers == 3 and load_preset("full").unseen_accent_speakers == 3
    assert load_preset("tiny").unseen_accent_speakers == 1
    zero = CorpusConfig(unseen_accent_speakers=0)
    assert zero.splits == ("train", "dev", "test") and zero.num_speakers == 10
    with pytest.raises(AvsrInputError, match="unseen_accent_speakers must be >= 0"):
        CorpusConfig(unseen_accent_speakers=-1).validate()


def test_decoders_parse_it_as_clean():
    assert parse_condition(UA) == (UA, "clean", None)  # E2E decoding (score.json noise/snr)
    assert parse_set_name(UA) == ("test", Condition("clean", subset="unseenaccent"))
    assert parse_set_name("test") == ("test", CLEAN) and parse_set_name("test_other") == ("test_other", CLEAN)
    assert record_condition({"test_set": UA, "noise": "clean", "snr": None}).label == "unseen accents"


def test_column_labels_and_order():
    conds = [parse_set_name(n)[1] for n in ("test_babblematched_snr0", "test_white_snr0", "test_babble_snr0", UA, "test")]
    assert [c.label for c in ordered(conds)] == [
        "clean", "unseen accents", "babble 0 dB", "white 0 dB", "babble 0 dB (training noise)"]
    assert not parse_set_name(UA)[1].is_clean  # not the clean point of the SNR plots


def test_leaderboard_has_an_unseen_accents_column(tmp_path):
    exp = tmp_path / "exp"
    sets = ["test", UA, "test_babble_snr0", "test_babblematched_snr0"]
    for i, s in enumerate(sets):
        write_summary(exp, "tri", s, [i % 3] * NUM_UTTS)
        write_summary(exp, "hybrid_audio", s, [i] * NUM_UTTS)
        write_e2e(exp, "ctc_att_a", "audio", s, "hlg_1best", i)
    write_summary(exp, "hybrid_audio", "dev", [0] * NUM_UTTS)
    rows = collect_rows(exp, "test")
    hybrid = next(r for r in rows if r.system == "hybrid_audio")
    assert hybrid.rate(Condition("clean", subset="unseenaccent"), "wer") == pytest.approx(100 / 6)
    (tmp_path / "lexicon.txt").write_text("".join(f"{w} {p}\n" for w, p in LEXICON.items()))
    build_leaderboard(LeaderboardOptions(exp=exp, out=tmp_path / "RESULTS.md", plots_dir=tmp_path / "plots",
                                         lexicon=tmp_path / "lexicon.txt", command="./run.sh", date="2026-01-01 00:00 UTC",
                                         preset="tiny", seed="7", repo_dir=tmp_path, bootstrap_samples=50))
    text = (tmp_path / "RESULTS.md").read_text()
    header = "| system | input | method | clean | unseen accents | babble 0 dB | babble 0 dB (training noise) |"
    assert header in text
    wer_row = next(line for line in text.splitlines() if line.startswith("| hybrid_audio"))  # the WER table comes first
    assert wer_row.split("|")[5].strip().startswith("16.7 [")  # unseen accents: 1 error in 6 words per utterance


def test_presets_decode_it_for_the_embedded_corpus_only():
    def sets(preset: str, corpus: str) -> tuple[list[str], list[str]]:
        out = subprocess.run(["bash", "-c", f'corpus={corpus}; . conf/presets/{preset}.sh; echo $test_sets_all; echo $test_sets_focus'],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout.splitlines()
        return out[0].split(), out[1].split()

    for preset in ("tiny", "default", "full"):
        all_sets, focus = sets(preset, "synthetic_grid")
        assert all_sets[:2] == ["test", UA], preset
        assert (UA in focus) == (preset != "tiny"), preset
        grid_all, grid_focus = sets(preset, "grid")
        assert UA not in grid_all and UA not in grid_focus and grid_all[0] == "test"


def test_shared_protocol_and_zero_speakers_in_stage0(tmp_path):
    """unseen_voices: false still makes the cross-accent set; unseen_accent_speakers: 0 makes none
    (and removes an earlier run's index, which stage 1 would otherwise pick up)."""
    import json

    from avsr.corpora.synthetic.corpus import generate_corpus
    from avsr.corpora.synthetic.speakers import BASE_VOICES

    index = tmp_path / "index"
    cfg = CorpusConfig(train_speakers=1, dev_speakers=0, test_speakers=0, unseen_accent_speakers=1, utts_per_speaker=1,
                       noise_talkers=0, unseen_voices=False)
    records = generate_corpus(tmp_path / "corpus", cfg, 1, 1, index)
    assert list(records) == ["train", "dev", "test", UA] and len(records[UA]) == 1
    info = json.loads((index / "speakers.json").read_text())
    assert info["s02"]["split"] == UA and info["s02"]["base_voice"] not in BASE_VOICES
    records = generate_corpus(tmp_path / "corpus", CorpusConfig(**{**cfg.to_dict(), "unseen_accent_speakers": 0}), 1, 1, index)
    assert list(records) == ["train", "dev", "test"] and not (index / f"{UA}.jsonl").exists()
    assert index_splits(index) == ["train", "dev", "test"]
