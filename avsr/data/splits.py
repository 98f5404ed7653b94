"""Which cut sets are clean splits, and which clean split a noisy copy comes from.

A corpus's data preparation (stage 0 or an egs/ recipe) writes ``<index_dir>/<split>.jsonl`` for
``train``, ``dev`` and ``test`` and, optionally, extra clean evaluation splits named
``dev_<name>`` or ``test_<name>`` (e.g. the embedded corpus's ``test_unseenaccent``: other
speakers, same recording conditions). Stages 1 and 3 treat every such split like ``test``
(manifests, video features, audio features); stage 6 aligns them all. Stage 2's outputs are not
clean splits: a noisy copy is ``<split>_<noise>_snr<N>`` (``test_babble_snr0``,
``test_babblematched_snr0``) and the multi-condition training set is ``train_multi``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Union

PathLike = Union[str, Path]
CORE_SPLITS: tuple[str, ...] = ("train", "dev", "test")
EXTRA_SPLIT_PREFIXES: tuple[str, ...] = ("dev", "test")  # dev_<name>, test_<name>
_NOISY_SET = re.compile(r"^(?P<base>.+?)_(?P<noise>[A-Za-z]+)_snr(?P<snr>-?\d+(?:\.\d+)?)$")


def base_split(set_name: str) -> str:
    """The clean split a set was made from: ``test_babble_snr-5`` → ``test``,
    ``test_unseenaccent_white_snr0`` → ``test_unseenaccent``; a clean split is its own base."""
    m = _NOISY_SET.match(set_name)
    return m.group("base") if m else set_name


def is_clean_split(name: str) -> bool:
    """``train``/``dev``/``test``, or an extra evaluation split ``dev_<name>``/``test_<name>``
    that is not a noisy copy."""
    if name in CORE_SPLITS:
        return True
    prefix, sep, rest = name.partition("_")
    return bool(sep and rest) and prefix in EXTRA_SPLIT_PREFIXES and not _NOISY_SET.match(name)


def clean_splits(names: Iterable[str]) -> list[str]:
    """The clean splits among ``names``: train, dev, test first, then the extra ones sorted."""
    names = set(names)
    return [s for s in CORE_SPLITS if s in names] + sorted(n for n in names if is_clean_split(n) and n not in CORE_SPLITS)


def index_splits(index_dir: PathLike) -> list[str]:
    """Splits a data-preparation index holds: train, dev, test (listed even when missing, so a
    missing one is reported by the caller) and every extra ``dev_*``/``test_*`` ``.jsonl``."""
    found = [p.name[: -len(".jsonl")] for p in Path(index_dir).glob("*.jsonl")] if Path(index_dir).is_dir() else []
    return list(CORE_SPLITS) + [s for s in clean_splits(found) if s not in CORE_SPLITS]


def cut_set_names(cut_dir: PathLike, corpus: str) -> list[str]:
    """Set names of every ``<cut_dir>/<corpus>_cuts_<set>.jsonl.gz``, sorted."""
    pattern = re.compile(rf"^{re.escape(corpus)}_cuts_(.+)\.jsonl\.gz$")
    return sorted(m.group(1) for f in Path(cut_dir).iterdir() if (m := pattern.match(f.name))) if Path(cut_dir).is_dir() else []
