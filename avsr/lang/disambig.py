"""Disambiguation symbols for a lexicon (Kaldi's add_lex_disambig.pl logic, our code).

A pronunciation that is a proper prefix of another, or is shared by several words
(homophones), gets ``#1``, ``#2``, ... appended so that L∘G is determinizable. ``#0`` is
kept for the LM's backoff arcs.
"""
from __future__ import annotations

from collections import Counter

from avsr.lang.lexicon import Lexicon, LexiconEntry


def add_disambig_symbols(lexicon: Lexicon) -> tuple[Lexicon, int]:
    """Return (lexicon with #k appended where needed, highest k used (0 if none))."""
    counts = Counter(e.phones for e in lexicon.entries)
    prefixes = {e.phones[:n] for e in lexicon.entries for n in range(1, len(e.phones))}
    next_index: dict[tuple[str, ...], int] = {}
    max_index = 0
    entries = []
    for e in lexicon.entries:
        if counts[e.phones] > 1 or e.phones in prefixes:
            index = next_index.get(e.phones, 1)
            next_index[e.phones] = index + 1
            max_index = max(max_index, index)
            entries.append(LexiconEntry(e.word, e.phones + (f"#{index}",), e.prob))
        else:
            entries.append(e)
    return Lexicon(entries), max_index
