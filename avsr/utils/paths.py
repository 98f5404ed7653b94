"""Path guards shared by the real-corpus preparations (GRID, LRS3)."""
from __future__ import annotations

from pathlib import Path
from typing import Union

from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]


def ensure_outside_corpus(corpus_dir: PathLike, out: PathLike, what: str) -> None:
    """Refuse an output location inside (or equal to) the corpus: preparation must never write there."""
    corpus, target = Path(corpus_dir).resolve(), Path(out).resolve()
    if target == corpus or corpus in target.parents:
        raise AvsrInputError(out, f"{what} is inside the corpus directory {corpus}: never write into the corpus")
