"""LM directories (data/lm/<name>/): the GRID grammar or a Kneser-Ney n-gram, compiled to
G.fst against a lang directory's words.txt.

  lm.arpa      (n-gram only) the trained model, independent of any lang directory
  G.fst, G.txt G over the words.txt it was built with
  words.txt    copy of that table, so the graph builder can tell if G must be recompiled
  build.json   kind, order, input hashes, sizes, seconds
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Optional, Sequence, Union

import kaldifst

from avsr.lang.arpa import read_arpa
from avsr.lang.ngram import train_kn_arpa
from avsr.lang.symbols import SymbolTable, read_symbol_table
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_dir, write_json_atomic, write_text_atomic
from avsr.wfst.fstutil import file_sha256, fst_size, write_fst_atomic
from avsr.wfst.grammar_fst import (arpa_to_fst, fst_to_symbolic_text, read_slot_grammar, slot_grammar_fst,
                                   write_slot_grammar)

PathLike = Union[str, Path]
log = logging.getLogger(__name__)
_NON_WORDS = {"<eps>", "#0", "<s>", "</s>"}


def lexicon_vocabulary(words: SymbolTable) -> set[str]:
    return {w for w in words.symbols() if w not in _NON_WORDS and not w.startswith("#")}


def compile_g(lm_dir: PathLike, words_txt: PathLike) -> kaldifst.StdVectorFst:
    """G for the LM in ``lm_dir`` over ``words_txt`` (checks the ARPA against it first)."""
    lm_dir = Path(lm_dir)
    words = read_symbol_table(words_txt)
    arpa = lm_dir / "lm.arpa"
    if arpa.is_file():
        read_arpa(arpa, lexicon_vocabulary(words), vocab_source=str(words_txt))
        return arpa_to_fst(arpa, words_txt)
    grammar = lm_dir / "grammar.txt"
    if grammar.is_file():
        return slot_grammar_fst(read_slot_grammar(grammar), words, source=str(grammar))
    raise AvsrInputError(lm_dir, "no lm.arpa or grammar.txt: not an LM directory (steps/make_lm.py writes one)")


def make_lm(
    out_dir: PathLike,
    lang_dir: PathLike,
    kind: str = "ngram",
    text: Optional[PathLike] = None,
    order: int = 3,
    arpa: Optional[PathLike] = None,
    force: bool = False,
    slots: Optional[Sequence[Sequence[str]]] = None,
) -> Path:
    """Build data/lm/<name>: ``kind`` is ``grammar`` (a slot grammar: one word from each of
    ``slots`` in turn, uniform, e.g. the GRID sentence grammar; written as ``grammar.txt``),
    ``ngram`` (train modified KN of ``order`` on ``text``) or ``arpa`` (use an existing ARPA
    file, checked line by line)."""
    t0 = time.time()
    out_dir = Path(out_dir)
    words_txt = Path(lang_dir) / "words.txt"
    words = read_symbol_table(words_txt)
    vocab = lexicon_vocabulary(words)
    info: dict = {"kind": kind, "lang": str(lang_dir), "words_hash": file_sha256(words_txt)}
    inputs = {"kind": kind, "words_hash": info["words_hash"], "order": order if kind == "ngram" else None,
              "text_hash": file_sha256(text) if kind == "ngram" and text and Path(text).is_file() else None,
              "arpa_hash": file_sha256(arpa) if kind == "arpa" and arpa and Path(arpa).is_file() else None,
              "slots": [list(s) for s in slots] if kind == "grammar" and slots else None}
    old = out_dir / "build.json"
    if old.is_file() and not force and json.loads(old.read_text()).get("inputs") == inputs:
        log.info("%s is up to date (input hashes match): skipped", out_dir)
        return out_dir
    info["inputs"] = inputs
    with atomic_dir(out_dir) as tmp:
        if kind == "ngram":
            if text is None:
                raise AvsrInputError(None, "an n-gram LM needs --text")
            lm = train_kn_arpa(text, tmp / "lm.arpa", order, vocab, vocab_source=str(words_txt))
            info.update(order=order, text=str(text), text_hash=file_sha256(text), discounts=lm.discounts[1:])
        elif kind == "arpa":
            if arpa is None:
                raise AvsrInputError(None, "kind 'arpa' needs --arpa")
            model = read_arpa(arpa, vocab, vocab_source=str(words_txt))
            shutil.copyfile(arpa, tmp / "lm.arpa")
            info.update(order=model.order, arpa=str(arpa), arpa_hash=file_sha256(arpa))
        elif kind == "grammar":
            if not slots:
                raise AvsrInputError(None, "kind 'grammar' needs its slots")
            write_slot_grammar(tmp / "grammar.txt", slots)
        else:
            raise ValueError(f"unknown LM kind {kind!r} (grammar, ngram, arpa)")
        G = compile_g(tmp, words_txt)
        write_fst_atomic(G, tmp / "G.fst")
        write_text_atomic(tmp / "G.txt", fst_to_symbolic_text(G, words))
        shutil.copyfile(words_txt, tmp / "words.txt")
        info.update(G=fst_size(G), seconds=round(time.time() - t0, 3))
        write_json_atomic(tmp / "build.json", info)
    log.info("wrote %s (%s): G %s", out_dir, kind, info["G"])
    return out_dir
