"""G: the word-level grammar or language model as an FST over words.txt ids.

- ``slot_grammar_fst``: a fixed-length slot grammar (one word per slot, uniform within a
  slot), which is exactly the GRID grammar (command colour preposition letter digit adverb).
- ``arpa_to_fst``: an ARPA n-gram through kaldilm.arpa2fst (back-off arcs carry #0 on the
  input side; <s>/</s> become epsilons).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence, Union

import kaldifst

from avsr.lang.symbols import SymbolTable
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_text_atomic
from avsr.wfst.fstutil import compile_arcs

PathLike = Union[str, Path]


def slot_grammar_fst(slots: Sequence[Sequence[str]], words: SymbolTable, source: str = "grammar") -> kaldifst.StdVectorFst:
    """Acceptor: state k -> k+1 on every word of slot k, cost log(len(slot)); last state final."""
    arcs = []
    for k, slot in enumerate(slots):
        cost = math.log(len(slot))
        for w in slot:
            if w not in words:
                raise AvsrInputError(source, f"grammar word {w!r} is not in words.txt")
            arcs.append((k, k + 1, words[w], words[w], cost))
    fst = compile_arcs(arcs, {len(slots): 0.0}, 0, len(slots) + 1)
    kaldifst.arcsort(fst, sort_type="ilabel")
    return fst


def read_slot_grammar(path: PathLike) -> list[list[str]]:
    """A slot grammar file: one slot per line, its words separated by spaces (``#`` comments)."""
    slots = [line.split("#", 1)[0].split() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    slots = [s for s in slots if s]
    if not slots:
        raise AvsrInputError(path, "slot grammar has no slots")
    return slots


def write_slot_grammar(path: PathLike, slots: Sequence[Sequence[str]]) -> None:
    write_text_atomic(path, "".join(" ".join(slot) + "\n" for slot in slots))


def arpa_to_fst(arpa: PathLike, words_txt: PathLike, max_order: int = -1) -> kaldifst.StdVectorFst:
    """G from an ARPA file (check it with avsr.lang.arpa.read_arpa first: kaldilm aborts on bad input)."""
    # kaldi_hmm_gmm must be imported before kaldilm: the other order hangs the process on
    # its later import (probed 2026-11-24 with kaldilm 1.15.5 / kaldi-hmm-gmm 1.1.4).
    import kaldi_hmm_gmm  # noqa: F401
    import kaldilm

    text = kaldilm.arpa2fst(
        input_arpa=str(arpa),
        disambig_symbol="#0",
        read_symbol_table=str(words_txt),
        max_order=max_order,
    )
    fst = kaldifst.compile(s=text, acceptor=False)
    kaldifst.arcsort(fst, sort_type="ilabel")
    return fst


def fst_to_symbolic_text(fst: kaldifst.StdVectorFst, isyms: SymbolTable, osyms: Optional[SymbolTable] = None) -> str:
    """OpenFst text format with symbols (for G.txt / debugging)."""
    osyms = osyms or isyms
    lines = []
    for state in kaldifst.StateIterator(fst):
        for arc in kaldifst.ArcIterator(fst, state):
            w = float(arc.weight.value)
            lines.append(f"{state}\t{arc.nextstate}\t{isyms.symbol(arc.ilabel)}\t{osyms.symbol(arc.olabel)}\t{w:.6g}")
        final = float(fst.final(state).value)
        if final != float("inf"):
            lines.append(f"{state}\t{final:.6g}")
    return "\n".join(lines) + "\n"
