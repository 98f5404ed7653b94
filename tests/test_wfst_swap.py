"""Lexicon + LM swap without retraining: a fixed "model" (tokens.txt) and its score archive
(an oracle standing in for the model's posteriors) decode new words after one command
rebuilt L, G and the graph; the model's files keep their hashes."""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avsr.corpora.grid.grammar import sample_sentence
from avsr.decode.archive import write_score_archive
from avsr.decode.oracle import oracle_ctc_matrix
from avsr.corpora.grid.espeak_lexicon import grid_espeak_lexicon
from avsr.lang.lexicon import Lexicon, LexiconEntry, write_lexicon
from avsr.lang.lm import make_lm
from avsr.lang.prepare import prepare_lang
from avsr.lang.symbols import read_symbol_table
from avsr.wfst.fstutil import file_sha256
from avsr.wfst.make_graph import make_graph
from avsr.wfst.swap import hash_dir, swap_and_decode

REPO = Path(__file__).resolve().parents[1]
# New words, made of phones the GRID model knows, never in the GRID training text.
NEW_WORDS = {"bit": ("b", "I", "t"), "ten": ("t", "E", "n"), "seed": ("s", "i:", "d"), "lid": ("l", "I", "d")}
TEST_SENTENCES = {"u1": ["bin", "blue", "at", "f", "two", "now"], "u2": ["set", "ten", "bit", "now"], "u3": ["lid", "seed", "again"]}


@pytest.fixture()
def world(tmp_path):
    """A 'trained' CTC model dir (tokens.txt + weights stand-in) built on the GRID lang."""
    lang = prepare_lang(grid_espeak_lexicon(), tmp_path / "data/lang_grid")
    model = tmp_path / "exp/ctc"
    model.mkdir(parents=True)
    tokens = read_symbol_table(lang / "phones.txt")
    (model / "tokens.txt").write_text("<blk> 0\n" + "".join(f"{s} {i}\n" for s, i in tokens if i and not s.startswith("#")))
    (model / "model.pt").write_bytes(np.random.default_rng(0).bytes(1000))
    rng = random.Random(5)
    train_text = tmp_path / "grid_text.txt"
    train_text.write_text("".join(" ".join(sample_sentence(rng)) + "\n" for _ in range(300)))
    make_lm(tmp_path / "data/lm/grid_tg", lang, kind="ngram", text=train_text, order=3)
    # The "model output": oracle posteriors over the model's tokens for each test sentence.
    lexicon = {**{e.word: e.phones for e in reversed(grid_espeak_lexicon().entries)}, **NEW_WORDS}
    token_ids = read_symbol_table(model / "tokens.txt")
    scores = {u: oracle_ctc_matrix([token_ids[p] for w in ws for p in lexicon[w]], len(token_ids), rng=np.random.default_rng(1))
              for u, ws in TEST_SENTENCES.items()}
    write_score_archive(tmp_path / "exp/ctc/decode_test/scores.npz", scores)
    new_lexicon = tmp_path / "new_lexicon.txt"
    write_lexicon(Lexicon(grid_espeak_lexicon().entries + [LexiconEntry(w, p) for w, p in NEW_WORDS.items()]), new_lexicon)
    new_text = tmp_path / "new_text.txt"
    new_text.write_text(train_text.read_text() + "set ten bit now\nlid seed again\nbit ten\nseed lid now\n")
    return tmp_path, lang, model, new_lexicon, new_text


def test_swap_recognises_new_words_without_touching_the_model(world):
    root, lang, model, new_lexicon, new_text = world
    scores = root / "exp/ctc/decode_test/scores.npz"
    # Before: the GRID lexicon/LM cannot produce the new words.
    make_graph("hlg", lang, root / "data/lm/grid_tg", root / "exp/graphs/hlg_grid", model)
    from avsr.decode.run import decode_archive

    old = decode_archive(root / "exp/graphs/hlg_grid", scores, root / "hyp_old.txt")
    assert old["u1"] == TEST_SENTENCES["u1"]
    assert not set(NEW_WORDS) & {w for ws in old.values() for w in ws}
    model_hashes = hash_dir(model)
    report = swap_and_decode(model, scores, new_lexicon, new_text, root / "data/lang_new", root / "data/lm/new_tg",
                             root / "exp/graphs/hlg_new", root / "hyp_new.txt")
    assert report["hyps"] == TEST_SENTENCES
    assert report["model_unchanged"] and report["scores_unchanged"] and report["model_hashes_before"] == model_hashes
    assert report["rebuilt"] == {"L_disambig.fst": True, "G.fst": True, "graph build.json": True}
    # Same command again: nothing is rebuilt.
    again = swap_and_decode(model, scores, new_lexicon, new_text, root / "data/lang_new", root / "data/lm/new_tg",
                            root / "exp/graphs/hlg_new", root / "hyp_new2.txt")
    assert not any(again["rebuilt"].values()) and again["graph_skipped"] and not again["lang_rebuilt"]
    # Only the LM changes: L is kept, G and the graph are rebuilt.
    new_text.write_text(new_text.read_text() + "bit bit bit\n")
    third = swap_and_decode(model, scores, new_lexicon, new_text, root / "data/lang_new", root / "data/lm/new_tg",
                            root / "exp/graphs/hlg_new", root / "hyp_new3.txt")
    assert third["rebuilt"] == {"L_disambig.fst": False, "G.fst": True, "graph build.json": True}
    assert hash_dir(model) == model_hashes


def test_make_graph_sh_one_command_swap(world):
    root, lang, model, new_lexicon, new_text = world
    model_hash = file_sha256(model / "model.pt")
    cmd = ["bash", str(REPO / "steps/make_graph.sh"), "--lang", str(root / "data/lang_new"), "--lm", str(root / "data/lm/new_tg"),
           "--kind", "hlg", "--model", str(model), "--lexicon", str(new_lexicon), "--lexicon-source", "file",
           "--lm-text", str(new_text), "--out", str(root / "exp/graphs/hlg_new")]
    env = {"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}
    first = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    assert "hlg: built" in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert "up to date (skipped)" in second.stdout and "hlg: up to date" in second.stdout
    hyp = root / "hyp.txt"
    subprocess.run([sys.executable, str(REPO / "steps/decode_graph.py"), "--graph", str(root / "exp/graphs/hlg_new"),
                    "--scores", str(root / "exp/ctc/decode_test/scores.npz"), "--out", str(hyp)], check=True, capture_output=True)
    assert "u2 set ten bit now" in hyp.read_text()
    assert file_sha256(model / "model.pt") == model_hash
    # A lexicon with a phone the model does not have is refused, naming the model's table.
    bad = root / "bad_lexicon.txt"
    bad.write_text(new_lexicon.read_text() + "zed z E QQ\n")
    cmd_bad = [c if c != str(new_lexicon) else str(bad) for c in cmd]
    failed = subprocess.run(cmd_bad, capture_output=True, text=True, env=env)
    assert failed.returncode == 1 and "tokens.txt" in failed.stderr and "QQ" in failed.stderr
