"""Lexicons and lang directories: tables, disambiguation, L, validation, bad input."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kaldifst
import pytest

from avsr.corpora.grid.grammar import grid_vocabulary
from avsr.lang.build import build_lang
from avsr.lang.disambig import add_disambig_symbols
from avsr.corpora.grid.espeak_lexicon import grid_espeak_lexicon
from avsr.lang.lexicon import Lexicon, LexiconEntry, cmudict_lexicon, espeak_lexicon, grapheme_lexicon, read_lexicon, write_lexicon
from avsr.lang.prepare import LangOptions, prepare_lang
from avsr.lang.symbols import read_symbol_table
from avsr.lang.validate import find_lang_problems, validate_lang
from avsr.utils.errors import AvsrInputError
from avsr.wfst.fstutil import fst_to_text

REPO = Path(__file__).resolve().parents[1]


def test_espeak_grid_lang_is_valid_and_complete(tmp_path):
    lang = prepare_lang(grid_espeak_lexicon(), tmp_path / "lang_espeak")
    assert find_lang_problems(lang) == []
    words = read_symbol_table(lang / "words.txt")
    for sym in ("<eps>", "<unk>", "#0", "<s>", "</s>"):
        assert sym in words
    assert words["<eps>"] == 0
    assert set(grid_vocabulary()) <= set(words.symbols())
    phones = read_symbol_table(lang / "phones.txt")
    assert phones["<eps>"] == 0 and "SIL" in phones and "#0" in phones
    assert (lang / "phones/silence.txt").read_text().split() == ["SIL", "SPN"]
    assert (lang / "phones/optional_silence.txt").read_text().split() == ["SIL"]
    # "a" (eI) is a prefix of "eight" (eI t) and "h" (eI tS): it needs a disambiguation symbol.
    disambig_lex = read_lexicon(lang / "lexiconp_disambig.txt", allow_disambig=True)
    assert disambig_lex.prons("a")[0][-1].startswith("#")
    assert not disambig_lex.prons("eight")[0][-1].startswith("#")
    for name in ("L.fst", "L_disambig.fst", "topo", "build.json"):
        assert (lang / name).is_file()


def test_disambig_symbols_for_homophones_and_prefixes():
    lex = Lexicon([
        LexiconEntry("ate", ("e", "t")), LexiconEntry("eight", ("e", "t")),
        LexiconEntry("a", ("e",)), LexiconEntry("tea", ("t", "i")),
    ])
    out, max_k = add_disambig_symbols(lex)
    prons = {e.word: e.phones for e in out.entries}
    assert prons["ate"] == ("e", "t", "#1") and prons["eight"] == ("e", "t", "#2")
    assert prons["a"] == ("e", "#1") and prons["tea"] == ("t", "i")
    assert max_k == 2


def test_L_accepts_pronunciations_with_optional_silence(tmp_path):
    lex = Lexicon([LexiconEntry("ab", ("a", "b")), LexiconEntry("b", ("b",))])
    lang = prepare_lang(lex, tmp_path / "lang", LangOptions(sil_prob=0.5, unk_word=""))
    phones, words = read_symbol_table(lang / "phones.txt"), read_symbol_table(lang / "words.txt")
    L = kaldifst.StdVectorFst.read(str(lang / "L.fst"))
    for phone_string, expected in ((["a", "b", "b"], ["ab", "b"]), (["SIL", "a", "b", "SIL", "b", "SIL"], ["ab", "b"])):
        acceptor = kaldifst.make_linear_acceptor([phones[p] for p in phone_string])
        kaldifst.arcsort(L, sort_type="ilabel")
        out = kaldifst.compose(acceptor, L)
        text = fst_to_text(kaldifst.shortest_path(out))
        assert [words.symbol(o) for _, _, _, o, _ in sorted(text.arcs) if o] in (expected, expected[::-1])
    # Without silence probability there is no SIL path at all.
    lang0 = prepare_lang(lex, tmp_path / "lang0", LangOptions(sil_prob=0.0, unk_word=""))
    L0 = kaldifst.StdVectorFst.read(str(lang0 / "L.fst"))
    kaldifst.arcsort(L0, sort_type="ilabel")
    acceptor = kaldifst.make_linear_acceptor([phones["SIL"], phones["b"]])
    assert kaldifst.compose(acceptor, L0).num_states == 0


def test_position_dependent_phones(tmp_path):
    lang = prepare_lang(grid_espeak_lexicon(), tmp_path / "lang_pd", LangOptions(position_dependent=True))
    assert find_lang_problems(lang) == []
    lex = read_lexicon(lang / "lexicon.txt")
    assert lex.prons("bin") == [("b_B", "I_I", "n_E")]
    assert lex.prons("a") == [("eI_S",)]
    assert lex.prons("<unk>") == [("SPN",)]


def test_cmudict_stress_and_grapheme_lexicons():
    plain = cmudict_lexicon(["zero", "in"])
    assert ("Z", "IH", "R", "OW") in plain.prons("zero")
    assert plain.prons("in") == [("IH", "N")]  # IH0 N and IH1 N collapse without stress
    stressed = cmudict_lexicon(["in"], keep_stress=True)
    assert set(stressed.prons("in")) == {("IH0", "N"), ("IH1", "N")}
    with pytest.raises(AvsrInputError, match="qzxv"):
        cmudict_lexicon(["qzxv"])
    assert grapheme_lexicon(["bin", "a"]).prons("bin") == [("b", "i", "n")]
    assert cmudict_lexicon(grid_vocabulary()).words == grid_vocabulary()


def test_espeak_lexicon_file_strips_stress_and_keeps_variants(tmp_path):
    path = tmp_path / "lexicon_espeak.txt"
    path.write_text("at 'a t\nat a t#\nzero z 'i@ r oU\n")
    lex = espeak_lexicon(path)
    assert lex.prons("at") == [("a", "t"), ("a", "t#")]
    assert lex.prons("zero") == [("z", "i@", "r", "oU")]
    with pytest.raises(AvsrInputError, match="no pronunciation for 1 word"):
        espeak_lexicon(path, ["at", "bin"])


def test_phone_table_keeps_model_ids(tmp_path):
    base = prepare_lang(grid_espeak_lexicon(), tmp_path / "lang_base")
    small = Lexicon([LexiconEntry("nib", ("n", "I", "b")), LexiconEntry("bin", ("b", "I", "n"))])
    new = prepare_lang(small, tmp_path / "lang_new", phone_table=base / "phones.txt")
    assert find_lang_problems(new) == []
    old_p, new_p = read_symbol_table(base / "phones.txt"), read_symbol_table(new / "phones.txt")
    for sym, idx in old_p:
        if not sym.startswith("#"):
            assert new_p[sym] == idx
    with pytest.raises(AvsrInputError, match="not in this phone table"):
        prepare_lang(Lexicon([LexiconEntry("x", ("QQ",))]), tmp_path / "lang_bad", phone_table=base / "phones.txt")


def test_build_lang_is_idempotent(tmp_path):
    lex_file = tmp_path / "lexicon_espeak.txt"
    write_lexicon(grid_espeak_lexicon(), lex_file)
    out, rebuilt = build_lang(tmp_path / "lang", "espeak", [], lex_file)
    assert rebuilt
    mtime = (out / "L.fst").stat().st_mtime_ns
    _, rebuilt = build_lang(tmp_path / "lang", "espeak", [], lex_file)
    assert not rebuilt and (out / "L.fst").stat().st_mtime_ns == mtime
    lex_file.write_text(lex_file.read_text() + "bit b I t\n")
    _, rebuilt = build_lang(tmp_path / "lang", "espeak", [], lex_file)
    assert rebuilt


# ---- bad input ---------------------------------------------------------------------------

def test_duplicate_lexicon_entry_names_file_and_line(tmp_path):
    path = tmp_path / "lexicon.txt"
    path.write_text("bin b I n\nset s E t\nbin b I n\n")
    with pytest.raises(AvsrInputError) as err:
        read_lexicon(path)
    assert f"{path}:3" in str(err.value) and "duplicate" in str(err.value) and "line 1" in str(err.value)


@pytest.mark.parametrize("line,problem", [("bin", "empty pronunciation"), ("#0 b", "reserved"), ("bin b #1", "not allowed")])
def test_bad_lexicon_lines(tmp_path, line, problem):
    path = tmp_path / "lexicon.txt"
    path.write_text(f"set s E t\n{line}\n")
    with pytest.raises(AvsrInputError, match=problem):
        read_lexicon(path)


def test_phone_missing_from_phones_txt_is_caught(tmp_path):
    lang = prepare_lang(grid_espeak_lexicon(), tmp_path / "lang")
    with open(lang / "lexicon.txt", "a") as handle:
        handle.write("zebra z i: b r @ QQ\n")
    problems = find_lang_problems(lang)
    assert any("phone 'QQ' is missing from phones.txt" in p and "lexicon.txt:" in p for p in problems)
    assert any("word 'zebra' is not in words.txt" in p for p in problems)
    with pytest.raises(AvsrInputError, match="QQ"):
        validate_lang(lang)
    cli = subprocess.run([sys.executable, str(REPO / "steps/validate_lang.py"), str(lang)], capture_output=True, text=True)
    assert cli.returncode == 1 and "QQ" in cli.stderr


def test_inconsistent_tables_are_caught(tmp_path):
    lang = prepare_lang(grid_espeak_lexicon(), tmp_path / "lang")
    (lang / "phones/silence.int").write_text("999\n")
    phones_txt = (lang / "phones.txt").read_text().replace("SPN 2\n", "SPN 2\nSPN2 2\n")
    (lang / "phones.txt").write_text(phones_txt)
    problems = find_lang_problems(lang)
    assert problems and "phones.txt:4" in problems[0] and "already used" in problems[0]
    (lang / "phones.txt").write_text(phones_txt.replace("SPN2 2\n", ""))
    problems = find_lang_problems(lang)
    assert any("silence.int" in p for p in problems)


def test_prepare_lang_cli_reports_bad_lexicon(tmp_path):
    path = tmp_path / "lexicon_espeak.txt"
    path.write_text("bin b I n\nbin b I n\n")
    cli = subprocess.run([sys.executable, str(REPO / "steps/prepare_lang.py"), "--source", "file", "--lexicon", str(path), str(tmp_path / "lang")],
                         capture_output=True, text=True)
    assert cli.returncode == 1
    assert cli.stderr.strip().splitlines()[-1].startswith(f"error: {path}:2: duplicate lexicon entry")
