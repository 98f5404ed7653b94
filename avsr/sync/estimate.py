"""Per-clip offset estimation from a score curve over candidate offsets.

Every estimator (the learned two-stream model, the cross-correlation baseline) turns a clip into
``curve[i]`` = how well the audio matches the video delayed by ``offsets[i]`` frames (see
:mod:`avsr.sync.shift` for the sign). The estimate is the best offset; its confidence is the
margin of the best score over the median score of all candidates (SyncNet's confidence: a flat
curve, e.g. a silent clip or a mismatched pair, has none).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Optional, Sequence

import numpy as np
from tqdm import tqdm

from avsr.sync.shift import FRAME_MS
from avsr.sync.streams import ClipStreams


@dataclass
class OffsetEstimate:
    cut_id: str
    offset_frames: int
    offset_ms: float
    confidence: float
    score: float  # the best offset's score (sync score of the clip)
    score_at_zero: float  # the score at offset 0 (matched vs mismatched pair test)
    curve: list[float] = field(default_factory=list)

    def to_dict(self, with_curve: bool = False) -> dict:
        d = asdict(self)
        if not with_curve:
            d.pop("curve")
        return d


def candidate_offsets(max_offset: int) -> np.ndarray:
    return np.arange(-max_offset, max_offset + 1)


def diagonal_means(sim: np.ndarray, offsets: Sequence[int], min_count: int = 1) -> np.ndarray:
    """``out[i]`` = mean over t of ``sim[t, t + offsets[i]]`` (audio window t against video
    window t + d, i.e. the video delayed by d); NaN where fewer than ``min_count`` pairs exist."""
    na, nv = sim.shape
    out = np.full(len(offsets), np.nan, np.float64)
    for i, d in enumerate(offsets):
        diag = np.diagonal(sim, offset=int(d))  # elements sim[t, t + d]
        if len(diag) >= min_count:
            out[i] = float(diag.mean())
    return out


def pick_offset(cut_id: str, curve: np.ndarray, offsets: Sequence[int]) -> OffsetEstimate:
    """Best offset of a score curve (ties: the one nearest 0), with its confidence margin."""
    offsets = np.asarray(offsets)
    valid = np.isfinite(curve)
    if not valid.any():
        return OffsetEstimate(cut_id, 0, 0.0, 0.0, float("nan"), float("nan"), [float(x) for x in curve])
    order = np.argsort(np.abs(offsets), kind="stable")  # 0, -1, 1, -2, 2, ...: ties go to the smallest shift
    best = max((i for i in order if valid[i]), key=lambda i: curve[i])
    zero = np.nonzero(offsets == 0)[0]
    at_zero = float(curve[zero[0]]) if len(zero) and valid[zero[0]] else float("nan")
    conf = float(curve[best] - np.median(curve[valid]))
    d = int(offsets[best])
    return OffsetEstimate(cut_id, d, d * FRAME_MS, round(conf, 5), round(float(curve[best]), 5), round(at_zero, 5),
                          [round(float(x), 5) for x in curve])


CurveFn = Callable[[ClipStreams], np.ndarray]


def estimate_all(clips: Iterable[ClipStreams], curve_fn: CurveFn, offsets: Sequence[int],
                 desc: str = "offsets", progress: bool = True) -> list[OffsetEstimate]:
    clips = list(clips)
    bar = tqdm(clips, desc=desc, leave=False, **({} if progress else {"disable": True}))
    return [pick_offset(c.cut_id, curve_fn(c), offsets) for c in bar]


def accuracy(estimates: Sequence[OffsetEstimate], truth: Sequence[int], tolerance: int = 1) -> dict:
    """Mean |error| (frames) and the share of clips within ``tolerance`` frames of the truth."""
    err = np.abs(np.array([e.offset_frames for e in estimates]) - np.asarray(truth))
    return {"num_clips": int(len(err)), "mean_abs_error_frames": round(float(err.mean()), 3) if len(err) else None,
            "within_tolerance": round(float((err <= tolerance).mean()), 4) if len(err) else None,
            "exact": round(float((err == 0).mean()), 4) if len(err) else None}


def roc_auc(positive: Sequence[float], negative: Sequence[float]) -> Optional[float]:
    """Area under the ROC curve = P(score of a random positive > score of a random negative)
    (ties count one half; Mann-Whitney U)."""
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    pos, neg = pos[np.isfinite(pos)], neg[np.isfinite(neg)]
    if not len(pos) or not len(neg):
        return None
    allv = np.concatenate([pos, neg])
    ranks = _average_ranks(allv)
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return round(float(u / (len(pos) * len(neg))), 4)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), np.float64)
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks
