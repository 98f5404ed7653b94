"""Safe loading and atomic outputs: no pickle anywhere a user's file is read, every torch.load with
weights_only=True (a checkpoint holding an object is refused), numpy archives without pickles, and
atomic_dir swapping directories without ever deleting the old one before the new one is in place."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch

from avsr.train.checkpoint import load_checkpoint, save_checkpoint
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_dir

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ("avsr", "steps", "local", "egs", "bench", "tools")


def _sources():
    for d in CODE_DIRS:
        for path in sorted((ROOT / d).rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield path, path.read_text(encoding="utf-8")


def _calls(text: str, name: str):
    """The argument text of every ``name(...)`` call (balanced parentheses)."""
    for m in re.finditer(re.escape(name) + r"\(", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        yield text[m.end():i - 1]


def test_no_pickle_and_safe_loaders_in_the_code():
    offenders = []
    for path, text in _sources():
        rel = path.relative_to(ROOT)
        if re.search(r"^\s*(import pickle|from pickle import|import cPickle|import dill|import joblib)", text, re.M):
            offenders.append(f"{rel}: imports a pickle module")
        offenders += [f"{rel}: torch.load without weights_only=True" for args in _calls(text, "torch.load")
                      if "weights_only=True" not in args]
        offenders += [f"{rel}: np.load allowing pickles" for args in _calls(text, "np.load") if "allow_pickle=True" in args]
    assert not offenders, "\n".join(offenders)


class Payload:
    """What a tampered checkpoint could carry: an arbitrary object (weights_only refuses to build it)."""


def test_checkpoint_with_an_object_is_refused(tmp_path: Path):
    path = tmp_path / "epoch-1.pt"
    torch.save({"model": {"w": torch.ones(2)}, "extra": Payload()}, path)
    with pytest.raises(AvsrInputError, match="cannot read checkpoint"):
        load_checkpoint(path)
    save_checkpoint(path, {"model": {"w": torch.ones(2)}, "epoch": 1, "config": {"a": [1, "b"]}})
    assert load_checkpoint(path)["config"] == {"a": [1, "b"]}


def _write(d: Path, **files: str) -> None:
    for name, text in files.items():
        (d / name).write_text(text)


def test_atomic_dir_swaps_old_for_new(tmp_path: Path):
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        _write(tmp, a="1", b="1")
    with atomic_dir(target) as tmp:
        _write(tmp, a="2")
    assert sorted(p.name for p in target.iterdir()) == ["a"] and (target / "a").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp or old dir left behind
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            _write(tmp, a="3")
            raise RuntimeError("the step failed")
    assert (target / "a").read_text() == "2" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_dir_keeps_the_old_dir_until_the_new_one_is_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        _write(tmp, a="old")
    seen = []
    real_rename = os.rename

    def rename(src, dst):
        seen.append((Path(src).name, Path(dst).name, (target / "a").read_text() if target.exists() else None))
        if Path(src).name.startswith(".out.tmp-"):
            raise OSError("disk full")  # renaming the new dir in fails
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="disk full"):
        with atomic_dir(target) as tmp:
            _write(tmp, a="new")
    monkeypatch.setattr(os, "rename", real_rename)
    assert seen[0][0] == "out" and seen[0][1].startswith(".out.old-")  # 1. the old dir is renamed away, intact
    assert seen[0][2] == "old"
    assert (target / "a").read_text() == "old"  # ... and put back when the new one cannot go in
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    # a kill between the two renames leaves ".out.old-*" and no "out": the next success removes it
    real_rename(target, tmp_path / ".out.old-killed")
    with atomic_dir(target) as tmp:
        _write(tmp, a="new")
    assert (target / "a").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]
