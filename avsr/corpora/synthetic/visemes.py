"""Phone → viseme → mouth-shape table for the synthetic face renderer.

Every espeak-ng (en) phoneme mnemonic maps to one viseme, or to two for diphthongs, whose mouth
moves from the first shape to the second. A viseme is a vector of articulatory mouth parameters
(see ``MOUTH_PARAMS``). Several phones share one viseme on purpose (p/b/m, t/d/n/s/z/l, k/g, ...):
the visual stream must carry real but ambiguous information, as lips do in life.
"""
from __future__ import annotations

import logging
from typing import Dict, Tuple

import numpy as np

logger = logging.getLogger(__name__)

# Order of the articulatory parameters in a mouth-shape vector.
#   open   : lip gap, 0 (closed) .. 1 (widest "a"); negative = lips pressed together (bilabial)
#   width  : mouth width relative to the speaker's rest width (spread > 1, rounded < 1)
#   round  : rounding / protrusion 0..1 (narrower, thicker, more circular opening)
#   teeth  : how much of the upper teeth shows in the opening, 0..1
#   tongue : how much tongue shows (tip between/behind teeth, or body in open vowels), 0..1
#   tuck   : lower lip raised and drawn under the upper teeth (labiodental f/v), 0..1
MOUTH_PARAMS: Tuple[str, ...] = ("open", "width", "round", "teeth", "tongue", "tuck")
N_PARAMS = len(MOUTH_PARAMS)

# Viseme → mouth-shape target (values in MOUTH_PARAMS order).
VISEME_SHAPES: Dict[str, Tuple[float, ...]] = {
    "SIL": (0.00, 1.00, 0.10, 0.00, 0.00, 0.00),     # relaxed, closed
    "BMP": (-0.25, 0.97, 0.00, 0.00, 0.00, 0.00),    # complete bilabial closure, lips pressed
    "FV": (0.10, 1.00, 0.00, 1.00, 0.00, 1.00),      # lower lip under the upper teeth
    "TH": (0.30, 1.02, 0.00, 0.80, 1.00, 0.00),      # tongue tip between the teeth
    "ALV": (0.18, 1.05, 0.00, 0.85, 0.25, 0.00),     # t d n s z l: teeth close, slight opening
    "POST": (0.22, 0.84, 0.55, 0.75, 0.10, 0.00),    # tS dZ S Z j: protruded, teeth visible
    "VEL": (0.32, 1.00, 0.05, 0.40, 0.20, 0.00),     # k g N: jaw somewhat open, tongue back
    "R": (0.20, 0.80, 0.60, 0.35, 0.05, 0.00),       # r: lips somewhat rounded
    "W": (0.07, 0.60, 1.00, 0.00, 0.00, 0.00),       # w: tight rounding, small opening
    "ROUND": (0.20, 0.66, 0.90, 0.10, 0.05, 0.00),   # u: U: close rounded
    "OROUND": (0.48, 0.76, 0.70, 0.20, 0.15, 0.00),  # 0 O: O@ oU-onset: open rounded
    "OPEN": (1.00, 1.02, 0.00, 0.45, 0.25, 0.00),    # a A: V: jaw wide open, tongue low
    "EH": (0.55, 1.10, 0.00, 0.65, 0.35, 0.00),      # E e: mid front, spread a little
    "SPREAD": (0.22, 1.22, 0.00, 1.00, 0.15, 0.00),  # i: I: spread lips, teeth showing
    "MID": (0.36, 1.00, 0.05, 0.35, 0.25, 0.00),     # @ 3: neutral schwa
}
NEUTRAL_VISEME = "MID"

# Phone (stress marks stripped) → one viseme, or two for diphthongs (onset, offset).
_PHONE_GROUPS: Dict[Tuple[str, ...], Tuple[str, ...]] = {
    ("p", "b", "m"): ("BMP",),
    ("f", "v"): ("FV",),
    ("T", "D"): ("TH",),
    ("t", "d", "n", "s", "z", "l", "t#", "d#", "t[", "n-", "l-", "t2", "d2", "z#", "s2",
     "l/", "l/2", "L", "?", "h", "x", "C"): ("ALV",),
    ("tS", "dZ", "S", "Z", "j", "S;", "Z;"): ("POST",),
    ("k", "g", "N", "n^", "J"): ("VEL",),
    ("r", "r-", "r/", "R", "*"): ("R",),
    ("w", "w#", "W"): ("W",),
    ("u:", "U", "u", "U@", "u@"): ("ROUND",),
    ("0", "O", "O:", "O@", "o", "0#"): ("OROUND",),
    ("a", "a#", "A:", "V", "aa", "a2", "A", "&"): ("OPEN",),
    ("E", "e", "E2", "E3"): ("EH",),
    ("i:", "I", "i", "I2", "I#", "y"): ("SPREAD",),
    ("@", "@2", "@5", "@L", "3", "3:", "@-", "V#"): ("MID",),
    # Diphthongs move between two shapes.
    ("aI", "aI2", "aI3", "aI@"): ("OPEN", "SPREAD"),
    ("aU", "aU@"): ("OPEN", "ROUND"),
    ("A@",): ("OPEN", "R"),
    ("i@", "i@3"): ("SPREAD", "R"),
    ("o@",): ("OROUND", "R"),
    ("e@",): ("EH", "R"),
    ("eI",): ("EH", "SPREAD"),
    ("oU", "oU#"): ("OROUND", "ROUND"),
    ("OI",): ("OROUND", "SPREAD"),
}
PHONE_TO_VISEMES: Dict[str, Tuple[str, ...]] = {p: v for ps, v in _PHONE_GROUPS.items() for p in ps}

# Stress/length marks espeak may leave in a mnemonic; the corpus side strips them, we do again.
_STRESS_MARKS = "',%="
# Variant suffixes: t# → t, aI2 → aI, l/2 → l/ → l.
_VARIANT_SUFFIXES = "#-[/23"

_warned: set = set()


def is_silence(phone: str) -> bool:
    """Pauses: espeak's ``_``, ``_:``, ``_!``, link pause ``;``, ``||`` and empty strings."""
    p = phone.strip()
    return p == "" or p.startswith("_") or p in (";", "|", "||", "sil", "SIL", "sp", "<sil>")


def phone_visemes(phone: str) -> Tuple[str, ...]:
    """Viseme name(s) of an espeak mnemonic; unknown phones give the neutral viseme and a warning."""
    phone = str(phone)
    if is_silence(phone):
        return ("SIL",)
    p = "".join(c for c in phone.strip() if c not in _STRESS_MARKS)
    if is_silence(p):
        return ("SIL",)
    while p:
        if p in PHONE_TO_VISEMES:
            return PHONE_TO_VISEMES[p]
        if p[-1] in _VARIANT_SUFFIXES:
            p = p[:-1]
        else:
            break
    if phone not in _warned:
        _warned.add(phone)
        logger.warning("unknown phone %r: rendered with the neutral mouth shape", phone)
    return (NEUTRAL_VISEME,)


def viseme_shape(viseme: str) -> np.ndarray:
    """Mouth-shape target vector (float64 [N_PARAMS]) of a viseme name."""
    return np.asarray(VISEME_SHAPES.get(viseme, VISEME_SHAPES[NEUTRAL_VISEME]), dtype=np.float64)


def phone_targets(phone: str) -> list[np.ndarray]:
    """Mouth-shape targets of a phone: one vector, or two for a diphthong (onset, offset)."""
    return [viseme_shape(v) for v in phone_visemes(phone)]
