"""Kneser-Ney ARPA writer, strict ARPA reader, G compilation, and LM bad-input errors."""
from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path

import kaldifst
import pytest

from avsr.corpora.grid.grammar import GRID_SLOTS, sample_sentence
from avsr.lang.arpa import read_arpa
from avsr.corpora.grid.espeak_lexicon import grid_espeak_lexicon
from avsr.lang.lm import make_lm
from avsr.lang.ngram import BOS, EOS, KneserNeyLM
from avsr.lang.prepare import prepare_lang
from avsr.utils.errors import AvsrInputError
from avsr.wfst.fstutil import fst_size, fst_to_text
from avsr.corpora.grid.grammar import grid_slots

REPO = Path(__file__).resolve().parents[1]
rng = random.Random(3)
SENTS = [sample_sentence(rng) for _ in range(150)] + [["bin", "blue"], ["now"]]


@pytest.fixture(scope="module")
def lang(tmp_path_factory):
    return prepare_lang(grid_espeak_lexicon(), tmp_path_factory.mktemp("lm") / "lang_espeak")


@pytest.mark.parametrize("order", [1, 2, 3])
def test_kn_distributions_sum_to_one(order):
    lm = KneserNeyLM(SENTS, order)
    for history in [(), (BOS,), ("bin",), (BOS, "bin"), ("blue", "at"), ("now", "again"), ("zzz", "yyy")]:
        assert sum(lm.prob(w, history) for w in lm.vocab) == pytest.approx(1.0, abs=1e-9)
    assert lm.prob(BOS, ()) == 0.0


def _arpa_prob(model, word, history, order):
    """p(word | history) from ARPA entries by the back-off rule."""
    history = tuple(history)[-(order - 1):] if order > 1 else ()
    gram = history + (word,)
    table = model.ngrams[len(gram)]
    if gram in table:
        return 10 ** table[gram][0]
    bow = model.ngrams[len(history)].get(history, (0.0, 0.0))[1] if history else 0.0
    return 10 ** (bow or 0.0) * _arpa_prob(model, word, history[1:], order)


@pytest.mark.parametrize("order", [2, 3])
def test_arpa_backoff_form_equals_interpolated_model(tmp_path, order):
    lm = KneserNeyLM(SENTS, order)
    path = tmp_path / "lm.arpa"
    path.write_text(lm.to_arpa())
    model = read_arpa(path)
    assert model.order == order
    for history in [(BOS,), ("bin",), (BOS, "set"), ("red", "with"), ("now", "bin"), ("q", "q")]:
        for word in ["blue", "at", EOS, "nine", "again"]:
            assert _arpa_prob(model, word, history, order) == pytest.approx(lm.prob(word, history), rel=1e-5)


def test_grid_grammar_G(lang, tmp_path):
    out = make_lm(tmp_path / "grid", lang, kind="grammar", slots=grid_slots())
    G = kaldifst.StdVectorFst.read(str(out / "G.fst"))
    assert fst_size(G) == {"states": 7, "arcs": sum(len(v) for v in GRID_SLOTS.values())}
    # Every sentence has probability 1/64000.
    best = fst_to_text(kaldifst.shortest_path(G))
    total = sum(a[4] for a in best.arcs) + sum(best.finals.values())
    assert total == pytest.approx(math.log(64000), abs=1e-4)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_ngram_lm_dir_and_idempotence(lang, tmp_path, order):
    text = tmp_path / "text.txt"
    text.write_text("".join(" ".join(s) + "\n" for s in SENTS))
    out = make_lm(tmp_path / f"o{order}", lang, kind="ngram", text=text, order=order)
    assert read_arpa(out / "lm.arpa").order == order
    assert (out / "G.fst").is_file() and (out / "G.txt").is_file() and (out / "words.txt").is_file()
    mtime = (out / "G.fst").stat().st_mtime_ns
    make_lm(tmp_path / f"o{order}", lang, kind="ngram", text=text, order=order)
    assert (out / "G.fst").stat().st_mtime_ns == mtime


# ---- bad input ---------------------------------------------------------------------------

GOOD_ARPA = """\\data\\
ngram 1=3
ngram 2=2

\\1-grams:
-99\t<s>\t-0.3
-0.5\tbin\t-0.2
-0.3\t</s>

\\2-grams:
-0.1\t<s> bin
-0.2\tbin </s>

\\end\\
"""


@pytest.mark.parametrize("mutate,problem,line", [
    (lambda t: t.replace("\\end\\\n", ""), "missing \\\\end", None),
    (lambda t: t.replace("ngram 2=2", "ngram 2=3"), "header says 3", 14),
    (lambda t: t.replace("-0.5\tbin", "abc\tbin"), "not a number", 7),
    (lambda t: t.replace("-0.1\t<s> bin", "-0.1\t<s>"), "2-gram line needs", 11),
    (lambda t: t.replace("-0.2\tbin </s>", "-0.2\tbin </s>\t-0.1"), "back-off", 12),
    (lambda t: t.replace("-0.5\tbin", "0.5\tbin"), "> 0", 7),
    (lambda t: t.replace("\\data\\\n", ""), "missing \\\\data", None),
])
def test_malformed_arpa_one_line_error_with_file_and_line(tmp_path, mutate, problem, line):
    path = tmp_path / "bad.arpa"
    path.write_text(mutate(GOOD_ARPA))
    with pytest.raises(AvsrInputError, match=problem) as err:
        read_arpa(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    if line is not None:
        assert f"{path}:{line}:" in message


def test_good_arpa_reads_and_unknown_word_is_reported(tmp_path):
    path = tmp_path / "lm.arpa"
    path.write_text(GOOD_ARPA)
    assert read_arpa(path, {"bin"}).ngrams[2][("<s>", "bin")] == (-0.1, None)
    with pytest.raises(AvsrInputError, match=f"{path}:7: word 'bin' is not in words.txt"):
        read_arpa(path, {"blue"}, vocab_source="words.txt")


def test_oov_word_in_lm_text_names_file_and_line(lang, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("bin blue at f two now\nset red by zebra one soon\n")
    with pytest.raises(AvsrInputError) as err:
        make_lm(tmp_path / "lm", lang, kind="ngram", text=text)
    assert f"{text}:2" in str(err.value) and "'zebra'" in str(err.value) and "OOV" in str(err.value)
    cli = subprocess.run([sys.executable, str(REPO / "steps/make_lm.py"), "--kind", "ngram", "--text", str(text), "--lang", str(lang), str(tmp_path / "lm")],
                         capture_output=True, text=True)
    assert cli.returncode == 1
    last = cli.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {text}:2: word 'zebra'")
    assert not (tmp_path / "lm").exists()  # nothing half-written


def test_malformed_arpa_through_cli(lang, tmp_path):
    path = tmp_path / "bad.arpa"
    path.write_text(GOOD_ARPA.replace("ngram 2=2", "ngram 2=5"))
    cli = subprocess.run([sys.executable, str(REPO / "steps/make_lm.py"), "--kind", "arpa", "--arpa", str(path), "--lang", str(lang), str(tmp_path / "lm")],
                         capture_output=True, text=True)
    assert cli.returncode == 1
    assert cli.stderr.strip().splitlines()[-1].startswith(f"error: {path}:14: \\2-grams has 2 entries, header says 5")
