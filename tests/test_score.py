"""WER/PER scoring: counts, the Kaldi summary line, alignments, CLI."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from avsr.lang.lexicon import Lexicon, LexiconEntry, write_lexicon
from avsr.score.wer import compute_error_stats, format_alignments, read_text, words_to_phones
from avsr.utils.errors import AvsrInputError

REPO = Path(__file__).resolve().parents[1]


def test_counts_and_kaldi_line():
    refs = {"a": "bin blue at f two now".split(), "b": "set red by g one soon".split()}
    hyps = {"a": "bin blue f two now now".split(), "b": "set green by g one".split()}
    stats = compute_error_stats(refs, hyps)
    assert (stats.ins, stats.dels, stats.subs, stats.ref_len) == (1, 2, 1, 12)
    assert stats.kaldi_line() == "%WER 33.33 [ 4 / 12, 1 ins, 2 del, 1 sub ]"
    text = format_alignments(stats)
    assert "a op   C C D C C C I" in text and "b #csid 4 1 0 1" in text


def test_missing_hypothesis_counts_as_deletions():
    stats = compute_error_stats({"a": ["x", "y"]}, {})
    assert stats.dels == 2 and stats.missing_hyps == ["a"] and stats.rate == 100.0


def test_per_through_lexicon():
    lex = Lexicon([LexiconEntry("bin", ("b", "I", "n")), LexiconEntry("pin", ("p", "I", "n"))])
    refs = words_to_phones({"a": ["bin"]}, lex)
    hyps = words_to_phones({"a": ["pin"]}, lex)
    assert compute_error_stats(refs, hyps).kaldi_line("PER") == "%PER 33.33 [ 1 / 3, 0 ins, 0 del, 1 sub ]"
    with pytest.raises(AvsrInputError, match="'zed'"):
        words_to_phones({"a": ["zed"]}, lex)


def test_text_reader_rejects_repeated_utterance(tmp_path):
    path = tmp_path / "text"
    path.write_text("u1 a b\nu2\nu1 c\n")
    with pytest.raises(AvsrInputError, match=f"{path}:3"):
        read_text(path)


def test_score_cli(tmp_path):
    (tmp_path / "ref").write_text("u1 bin blue\nu2 set red\n")
    (tmp_path / "hyp").write_text("u1 bin blue\nu2 set\n")
    out = subprocess.run([sys.executable, str(REPO / "steps/score.py"), "--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
                          "--out-dir", str(tmp_path / "score")], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "%WER 25.00 [ 1 / 4, 0 ins, 1 del, 0 sub ]"
    assert (tmp_path / "score/wer").read_text().strip() == out.stdout.strip()
    lex = tmp_path / "lexicon.txt"
    write_lexicon(Lexicon([LexiconEntry("bin", ("b", "I", "n")), LexiconEntry("blue", ("b", "l", "u:")),
                           LexiconEntry("set", ("s", "E", "t")), LexiconEntry("red", ("r", "E", "d"))]), lex)
    per = subprocess.run([sys.executable, str(REPO / "steps/score.py"), "--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
                          "--lexicon", str(lex)], capture_output=True, text=True, check=True)
    assert per.stdout.strip() == "%PER 25.00 [ 3 / 12, 0 ins, 3 del, 0 sub ]"
