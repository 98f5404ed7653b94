"""espeak-ng (1.52, en-us) phonemes of the 51 GRID words, as probed in /work/shared/deps.md.

A reference lexicon for tests and demos before the corpus generator has written its own
``lexicon_espeak.txt`` (which is built from phoneme events and may hold more variants).
"""
from __future__ import annotations

from avsr.lang.lexicon import Lexicon, LexiconEntry, strip_espeak_stress

_TABLE = """
bin b 'I n | lay l 'eI | place p l 'eI s | set s 'E t
blue b l 'u: | green g r 'i: n | red r 'E d | white w 'aI t
at 'a t | at a t# | by b 'aI | in 'I n | with w 'I D
a 'eI | b b 'i: | c s 'i: | d d 'i: | e 'i: | f 'E f | g dZ 'i: | h 'eI tS | i 'aI
j dZ 'eI | k k 'eI | l 'E l | m 'E m | n 'E n | o 'oU | p p 'i: | q k j 'u: | r 'A@
s 'E s | t t 'i: | u j 'u: | v v 'i: | x 'E k s | y w 'aI | z z 'i:
zero z 'i@ r oU | one w 'V n | two t 'u: | three T r 'i: | four f 'o@
five f 'aI v | six s 'I k s | seven s 'E v @ n | eight 'eI t | nine n 'aI n
again a# g 'E n | now n 'aU | please p l 'i: z | soon s 'u: n
"""


def grid_espeak_lexicon() -> Lexicon:
    """The deps.md table with stress marks stripped (``at`` has two variants)."""
    entries = []
    for chunk in _TABLE.replace("\n", "|").split("|"):
        fields = chunk.split()
        if fields:
            entries.append(LexiconEntry(fields[0], tuple(strip_espeak_stress(p) for p in fields[1:])))
    return Lexicon(entries)
