"""How steady and how well placed a mouth-box track is: jitter, drift and offset from a reference.

Used by bench/bench_roi.py (the measurements in docs/dev-notes/roi.md) and by the ROI tests.
Boxes are (x, y, w, h) per frame; "relative" numbers are in units of the box side (the crop).
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def box_centres(boxes: np.ndarray) -> np.ndarray:
    """Centres [T, 2] of boxes [T, 4]."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return boxes[:, :2] + boxes[:, 2:] / 2


def centre_jitter(boxes: np.ndarray, valid: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Frame-to-frame displacement of the box centre: (pixels [P], fraction of the box side [P]).

    With ``valid`` [T], only pairs of consecutive frames that are both valid count (raw
    detections); without it every consecutive pair does (the smoothed track a crop is cut from).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(boxes) < 2:
        return np.zeros(0), np.zeros(0)
    step = np.linalg.norm(np.diff(box_centres(boxes), axis=0), axis=1)
    side = (boxes[1:, 2] + boxes[:-1, 2]) / 2
    pairs = np.ones(len(step), dtype=bool) if valid is None else (np.asarray(valid[1:], bool) & np.asarray(valid[:-1], bool))
    return step[pairs], step[pairs] / np.maximum(side[pairs], 1e-9)


def offset_from_reference(boxes: np.ndarray, reference: np.ndarray, valid: Optional[np.ndarray] = None) -> np.ndarray:
    """Box centre minus a reference point (e.g. the mouth landmarks' mean) in box sides: [T', 2]."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    off = (box_centres(boxes) - np.asarray(reference, dtype=np.float64)) / boxes[:, 2:3]
    return off if valid is None else off[np.asarray(valid, bool)]


def drift(boxes: np.ndarray, reference: np.ndarray, valid: Optional[np.ndarray] = None) -> float:
    """How far the box slides off the reference over a clip, in box sides: the distance between the
    mean offset of the first and of the last quarter of the (valid) frames."""
    off = offset_from_reference(boxes, reference, valid)
    if len(off) < 4:
        return 0.0
    quarter = max(1, len(off) // 4)
    return float(np.linalg.norm(off[-quarter:].mean(0) - off[:quarter].mean(0)))


def summary(values: np.ndarray) -> dict:
    """Median and 95th percentile (NaN-free; zeros for no values)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return {"median": 0.0, "p95": 0.0, "n": 0}
    return {"median": float(np.median(values)), "p95": float(np.percentile(values, 95)), "n": int(len(values))}
