"""Atomic file writing: a killed stage never leaves a half-written output behind."""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator, Union

PathLike = Union[str, Path]


def temp_path_for(path: PathLike) -> Path:
    """A unique temporary name in the same directory (so the final rename is atomic).

    The temp name keeps the original suffixes after a ``.tmp-XXXX`` infix, so writers
    that infer the format from the extension (lhotse's ``.jsonl.gz``) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name.split('.')[0]}.tmp-", suffix="".join(path.suffixes) or ".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path to write to; rename it onto ``path`` only on success."""
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a temporary directory; it replaces ``path`` only when the block succeeds.

    The swap never deletes the old content before the new one is in place: the old directory is
    renamed away (``.<name>.old-XXXX``), the new one renamed in, and only then the old one is
    deleted. Each rename is atomic, so ``path`` is always either the complete old or the complete
    new directory (or, killed between the two renames, absent: the step re-runs); if renaming the
    new one in fails, the old one is put back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        old = None
        if path.exists() or path.is_symlink():
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:12]}"
            os.rename(path, old)
        try:
            os.rename(tmp, path)
        except BaseException:
            if old is not None:
                os.rename(old, path)
            raise
        if old is not None:
            _remove(old)
        for stale in path.parent.glob(f".{glob.escape(path.name)}.old-*"):  # left by a kill between the renames
            _remove(stale)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_text_atomic(path: PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: PathLike, obj: Any, indent: int = 2) -> None:
    write_text_atomic(path, json.dumps(obj, indent=indent, sort_keys=False) + "\n")


def file_sha256(path: PathLike) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
