"""L: phones -> words, with optional silence between words (Kaldi's make_lexicon_fst layout).

States: 0 = start, 1 = loop (between words, final), 2 = silence; each pronunciation is a
chain of phone arcs leaving the loop state, the first carrying the word. A word ends either
back in the loop state (cost -log(1-p_sil)) or in the silence state (cost -log p_sil), which
then emits the silence phone. The start state chooses leading silence the same way.
For L_disambig, pronunciations already carry #k and the loop state gets a ``#0:#0``
self-loop so G's backoff ``#0`` arcs pass through.
"""
from __future__ import annotations

import math
from typing import Optional

import kaldifst

from avsr.lang.lexicon import Lexicon
from avsr.lang.symbols import SymbolTable
from avsr.wfst.fstutil import compile_arcs


def make_lexicon_fst(
    lexicon: Lexicon,
    phones: SymbolTable,
    words: SymbolTable,
    sil_phone: Optional[str] = "SIL",
    sil_prob: float = 0.5,
    disambig_loop: bool = False,
) -> kaldifst.StdVectorFst:
    """Build L (or L_disambig when the lexicon has #k and ``disambig_loop``), olabel-sorted.

    ``sil_phone=None`` or ``sil_prob=0`` gives a lexicon without optional silence.
    """
    arcs: list[tuple[int, int, int, int, float]] = []
    use_sil = sil_phone is not None and sil_prob > 0.0
    if use_sil and not 0.0 < sil_prob < 1.0:
        raise ValueError(f"sil_prob must be in [0, 1), got {sil_prob}")
    start, loop = 0, 1
    next_state = 2
    sil_cost = no_sil_cost = 0.0
    if use_sil:
        sil_state = 2
        next_state = 3
        sil_cost, no_sil_cost = -math.log(sil_prob), -math.log(1.0 - sil_prob)
        arcs.append((start, loop, 0, 0, no_sil_cost))
        arcs.append((start, sil_state, 0, 0, sil_cost))
        arcs.append((sil_state, loop, phones[sil_phone], 0, 0.0))
    else:
        loop = start  # one state: words loop on the start state
        next_state = 1
    for entry in lexicon.entries:
        pron_cost = -math.log(entry.prob)
        labels = [phones[p] for p in entry.phones]
        word_id = words[entry.word]
        src = loop
        for k, label in enumerate(labels[:-1]):
            arcs.append((src, next_state, label, word_id if k == 0 else 0, pron_cost if k == 0 else 0.0))
            src = next_state
            next_state += 1
        last_out = word_id if len(labels) == 1 else 0
        last_cost = pron_cost if len(labels) == 1 else 0.0
        arcs.append((src, loop, labels[-1], last_out, last_cost + no_sil_cost))
        if use_sil:
            arcs.append((src, sil_state, labels[-1], last_out, last_cost + sil_cost))
    if disambig_loop:
        arcs.append((loop, loop, phones["#0"], words["#0"], 0.0))
    fst = compile_arcs(arcs, {loop: 0.0}, start, next_state)
    kaldifst.arcsort(fst, sort_type="olabel")
    return fst
