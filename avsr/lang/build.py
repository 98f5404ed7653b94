"""One entry point for data/lang_<name>: choose the lexicon source, prepare, skip if the
same inputs were already prepared (the source hash in build.json)."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence, Union

from avsr.lang.lexicon import Lexicon, bpe_lexicon, cmudict_lexicon, espeak_lexicon, grapheme_lexicon, read_lexicon
from avsr.lang.prepare import LangOptions, prepare_lang
from avsr.utils.errors import AvsrInputError
from avsr.wfst.fstutil import file_sha256

PathLike = Union[str, Path]
log = logging.getLogger(__name__)
SOURCES = ("cmudict", "espeak", "grapheme", "bpe", "file")


def read_word_list(path: PathLike) -> list[str]:
    """Distinct words of a word list or a text file (every whitespace-separated token)."""
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "word list / text does not exist")
    return sorted({w for line in path.read_text(encoding="utf-8").splitlines() for w in line.split()})


def make_lexicon(source: str, words: Sequence[str], lexicon_file: Optional[PathLike] = None, keep_stress: bool = False) -> Lexicon:
    if source == "cmudict":
        return cmudict_lexicon(words, keep_stress=keep_stress)
    if source == "grapheme":
        return grapheme_lexicon(words)
    if lexicon_file is None:
        raise AvsrInputError(None, f"lexicon source {source!r} needs a lexicon file (bpe: the sentencepiece model)")
    if source == "bpe":
        return bpe_lexicon(words, lexicon_file)
    if source == "espeak":
        return espeak_lexicon(lexicon_file, words or None)
    if source == "file":
        return read_lexicon(lexicon_file)
    raise ValueError(f"unknown lexicon source {source!r}; one of {SOURCES}")


def build_lang(
    out_dir: PathLike,
    source: str,
    words: Sequence[str] = (),
    lexicon_file: Optional[PathLike] = None,
    keep_stress: bool = False,
    options: Optional[LangOptions] = None,
    phone_table: Optional[PathLike] = None,
    force: bool = False,
) -> tuple[Path, bool]:
    """Prepare the lang dir unless its recorded source hash matches; returns (dir, rebuilt)."""
    opts = options or LangOptions()
    lexicon = make_lexicon(source, list(words), lexicon_file, keep_stress)
    if not opts.unk_word:  # no unknown word in this lang: a source lexicon's <unk> entry goes too
        lexicon = Lexicon([e for e in lexicon.entries if e.word != "<unk>"])
    digest = hashlib.sha256()
    digest.update(json.dumps([source, keep_stress, asdict(opts)]).encode())
    digest.update("\n".join(f"{e.word} {e.prob} {' '.join(e.phones)}" for e in lexicon.entries).encode())
    if phone_table:
        digest.update(file_sha256(phone_table).encode())
    source_hash = digest.hexdigest()
    build = Path(out_dir) / "build.json"
    if build.is_file() and not force and json.loads(build.read_text()).get("source_hash") == source_hash:
        log.info("%s is up to date: skipped", out_dir)
        return Path(out_dir), False
    prepare_lang(lexicon, out_dir, opts, phone_table=phone_table, source_hash=source_hash)
    return Path(out_dir), True
