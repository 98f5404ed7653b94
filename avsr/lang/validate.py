"""Consistency checks on a lang directory (our take on Kaldi's utils/validate_lang.pl).

Every problem is reported as one line naming the file (and line where it has one).
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

from avsr.lang.lexicon import read_lexicon
from avsr.lang.symbols import SymbolTable, read_symbol_table
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
REQUIRED_WORDS = ("<eps>", "#0", "<s>", "</s>")


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        raise AvsrInputError(path, "missing")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _check_table(table: SymbolTable, path: Path, problems: list[str]) -> None:
    if table.get("<eps>") != 0:
        problems.append(f"{path}: <eps> must have id 0")
    ids = [i for _, i in table]
    if ids != list(range(len(ids))):
        problems.append(f"{path}: ids are not contiguous from 0 (Kaldi requires 0..N-1)")


def _check_int_file(txt: Path, table: SymbolTable, problems: list[str]) -> None:
    int_path = txt.with_suffix(".int")
    try:
        syms, ints = _read_list(txt), _read_list(int_path)
    except AvsrInputError as err:
        problems.append(str(err))
        return
    for lineno, sym in enumerate(syms, start=1):
        if sym not in table:
            problems.append(f"{txt}:{lineno}: phone {sym!r} is not in phones.txt")
    expected = [str(table[s]) for s in syms if s in table]
    if ints != expected:
        problems.append(f"{int_path}: does not match {txt.name} mapped through phones.txt")


def find_lang_problems(lang_dir: PathLike) -> list[str]:
    """All problems found in ``lang_dir`` (empty list = valid)."""
    d = Path(lang_dir)
    problems: list[str] = []
    try:
        phones = read_symbol_table(d / "phones.txt")
        words = read_symbol_table(d / "words.txt")
    except AvsrInputError as err:
        return [str(err)]
    _check_table(phones, d / "phones.txt", problems)
    _check_table(words, d / "words.txt", problems)
    for w in REQUIRED_WORDS:
        if w not in words:
            problems.append(f"{d / 'words.txt'}: required symbol {w} is missing")
    disambig_phones = [s for s, _ in phones if s.startswith("#")]
    if "#0" not in phones:
        problems.append(f"{d / 'phones.txt'}: disambiguation symbol #0 is missing")
    # Disambiguation symbols must come after every real phone (Kaldi tools rely on it).
    real_ids = [i for s, i in phones if i != 0 and not s.startswith("#")]
    if disambig_phones and real_ids and min(phones[s] for s in disambig_phones) < max(real_ids):
        problems.append(f"{d / 'phones.txt'}: disambiguation symbols must have the highest ids")
    sets = {}
    for name in ("silence", "nonsilence", "optional_silence", "disambig"):
        txt = d / "phones" / f"{name}.txt"
        _check_int_file(txt, phones, problems)
        sets[name] = set(_read_list(txt)) if txt.is_file() else set()
    if sets["silence"] & sets["nonsilence"]:
        problems.append(f"{d / 'phones'}: silence and nonsilence overlap: {sorted(sets['silence'] & sets['nonsilence'])}")
    real = {s for s, i in phones if i != 0 and not s.startswith("#")}
    if sets["silence"] | sets["nonsilence"] != real:
        diff = sorted(real ^ (sets["silence"] | sets["nonsilence"]))
        problems.append(f"{d / 'phones'}: silence + nonsilence != the phones of phones.txt (differ in {diff[:10]})")
    if not sets["optional_silence"] <= sets["silence"]:
        problems.append(f"{d / 'phones/optional_silence.txt'}: optional silence is not a silence phone")
    if sets["disambig"] != set(disambig_phones):
        problems.append(f"{d / 'phones/disambig.txt'}: does not list exactly the #k symbols of phones.txt")
    # The lexicon: duplicates and reserved symbols are caught by read_lexicon itself.
    for name in ("lexicon.txt", "lexiconp.txt"):
        path = d / name
        if not path.is_file():
            if name == "lexicon.txt":
                problems.append(f"{path}: missing")
            continue
        try:
            lexicon = read_lexicon(path)
        except AvsrInputError as err:
            problems.append(str(err))
            continue
        numbered = [n for n, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if ln.split()]
        for lineno, entry in zip(numbered, lexicon.entries):
            if entry.word not in words:
                problems.append(f"{path}:{lineno}: word {entry.word!r} is not in words.txt")
            for p in entry.phones:
                if p not in phones:
                    problems.append(f"{path}:{lineno}: phone {p!r} is missing from phones.txt")
                elif p.startswith("#"):
                    problems.append(f"{path}:{lineno}: disambiguation symbol {p!r} in the lexicon")
    for name in ("L.fst", "L_disambig.fst"):
        problems.extend(_check_fst_labels(d / name, phones, words))
    topo = d / "topo"
    if topo.is_file():
        problems.extend(_check_topo(topo, real, phones))
    return problems


def _check_fst_labels(path: Path, phones: SymbolTable, words: SymbolTable) -> list[str]:
    import kaldifst

    if not path.is_file():
        return [f"{path}: missing"]
    fst = kaldifst.StdVectorFst.read(str(path))
    max_phone, max_word = phones.max_id(), words.max_id()
    for state in kaldifst.StateIterator(fst):
        for arc in kaldifst.ArcIterator(fst, state):
            if not 0 <= arc.ilabel <= max_phone:
                return [f"{path}: input label {arc.ilabel} is not in phones.txt"]
            if not 0 <= arc.olabel <= max_word:
                return [f"{path}: output label {arc.olabel} is not in words.txt"]
    return []


def _check_topo(path: Path, real: set[str], phones: SymbolTable) -> list[str]:
    import re

    text = path.read_text()
    covered: list[int] = []
    for block in re.findall(r"<ForPhones>(.*?)</ForPhones>", text, flags=re.S):
        covered.extend(int(x) for x in block.split())
    expected = sorted(phones[s] for s in real)
    if sorted(covered) != expected:
        return [f"{path}: covers phone ids {sorted(set(covered) ^ set(expected))[:10]} inconsistently with phones.txt"]
    return []


def validate_lang(lang_dir: PathLike) -> None:
    """Raise AvsrInputError with the first problem (all problems are in the message)."""
    problems = find_lang_problems(lang_dir)
    if problems:
        more = f" (+{len(problems) - 1} more: {'; '.join(problems[1:4])})" if len(problems) > 1 else ""
        raise AvsrInputError(None, problems[0] + more)
