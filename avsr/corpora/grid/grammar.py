"""The GRID corpus grammar (Cooke et al., 2006): command colour preposition letter digit adverb.

GRID utterance ids encode the sentence, one character per slot (e.g. ``bbaf2n`` =
"bin blue at f two now"); this module maps both ways.
"""
from __future__ import annotations

import random
from typing import Sequence

GRID_SLOTS: dict[str, tuple[str, ...]] = {
    "command": ("bin", "lay", "place", "set"),
    "color": ("blue", "green", "red", "white"),
    "preposition": ("at", "by", "in", "with"),
    "letter": tuple("abcdefghijklmnopqrstuvxyz"),  # 25 letters: no "w"
    "digit": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "adverb": ("again", "now", "please", "soon"),
}
SLOT_NAMES: tuple[str, ...] = tuple(GRID_SLOTS)
DIGIT_CODES = {w: str(i) for i, w in enumerate(GRID_SLOTS["digit"])}
# The real corpus names zero "z" (e.g. s1/bbaszn = "bin blue at s zero now", ~10 % of its clips);
# the embedded corpus's ids use "0". Both read back as zero.
CODE_TO_DIGIT = {**{c: w for w, c in DIGIT_CODES.items()}, "z": "zero"}


def grid_slots() -> list[list[str]]:
    """The grammar's slots in order, as a slot grammar (avsr.lang.lm.make_lm kind "grammar")."""
    return [list(words) for words in GRID_SLOTS.values()]


def grid_vocabulary() -> list[str]:
    """The 51 GRID words, sorted."""
    return sorted({w for words in GRID_SLOTS.values() for w in words})


def is_grid_sentence(words: Sequence[str]) -> bool:
    return len(words) == len(SLOT_NAMES) and all(
        w in GRID_SLOTS[slot] for w, slot in zip(words, SLOT_NAMES)
    )


def sentence_to_code(words: Sequence[str]) -> str:
    """['bin','blue','at','f','two','now'] -> 'bbaf2n' (GRID's own utterance naming)."""
    if not is_grid_sentence(words):
        raise ValueError(f"not a GRID sentence: {' '.join(words)!r}")
    return "".join(DIGIT_CODES[w] if slot == "digit" else w[0] for w, slot in zip(words, SLOT_NAMES))


def code_to_sentence(code: str) -> list[str]:
    """'bbaf2n' -> ['bin','blue','at','f','two','now'] (digit ``z`` or ``0`` = zero, as GRID names
    it); raises ValueError if it is not a GRID code."""
    if len(code) != len(SLOT_NAMES):
        raise ValueError(f"GRID utterance code must have {len(SLOT_NAMES)} characters: {code!r}")
    words = []
    for ch, slot in zip(code, SLOT_NAMES):
        if slot == "digit":
            word = CODE_TO_DIGIT.get(ch)
        elif slot == "letter":
            word = ch if ch in GRID_SLOTS["letter"] else None
        else:
            matches = [w for w in GRID_SLOTS[slot] if w[0] == ch]
            word = matches[0] if len(matches) == 1 else None
        if word is None:
            raise ValueError(f"{code!r}: {ch!r} is not a valid {slot} code")
        words.append(word)
    return words


def sample_sentence(rng: random.Random) -> list[str]:
    """One uniformly random GRID sentence."""
    return [rng.choice(GRID_SLOTS[slot]) for slot in SLOT_NAMES]
