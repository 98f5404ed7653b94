"""The data-preparation contract: stage 0 of every recipe writes one JSONL file of
:class:`UttRecord` per split (``data/local/<corpus>/<split>.jsonl``); stage 1 turns them into
lhotse manifests. Keeping this plain-text step makes every recipe share stages 1-3.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Iterable, Union

from avsr.data.types import Segment, UttRecord
from avsr.utils.io import atomic_path

PathLike = Union[str, Path]


def record_to_dict(rec: UttRecord) -> dict:
    d = asdict(rec)
    d["words"] = [[s.symbol, round(s.start, 4), round(s.end, 4)] for s in rec.words]
    d["phones"] = [[s.symbol, round(s.start, 4), round(s.end, 4)] for s in rec.phones]
    if rec.face_boxes is not None:
        d["face_boxes"] = [list(map(int, b)) for b in rec.face_boxes]
    return d


def record_from_dict(d: dict) -> UttRecord:
    d = dict(d)
    d.setdefault("video_path", None)  # audio-only indexes may leave the key out
    d["words"] = [Segment(str(s), float(a), float(b)) for s, a, b in d.get("words", [])]
    d["phones"] = [Segment(str(s), float(a), float(b)) for s, a, b in d.get("phones", [])]
    if d.get("face_boxes") is not None:
        d["face_boxes"] = [tuple(b) for b in d["face_boxes"]]
    return UttRecord(**d)


def write_records(path: PathLike, records: Iterable[UttRecord]) -> None:
    """Write records as JSONL, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            for rec in records:
                f.write(json.dumps(record_to_dict(rec), ensure_ascii=False) + "\n")


def read_records(path: PathLike) -> list[UttRecord]:
    with open(path, encoding="utf-8") as f:
        return [record_from_dict(json.loads(line)) for line in f if line.strip()]
