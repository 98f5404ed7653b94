"""How good is an estimator: accuracy on clips shifted by known offsets, false alarms on
unshifted clips, and the matched-vs-mismatched AUC of the sync score."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from avsr.sync.estimate import CurveFn, OffsetEstimate, accuracy, estimate_all, roc_auc
from avsr.sync.scoring import pair_clip
from avsr.sync.streams import ClipStreams, injected


def injected_offset_accuracy(clips: Sequence[ClipStreams], curve_fn: CurveFn, offsets: Sequence[int],
                             inject: Sequence[int], tolerance: int = 1, desc: str = "inject") -> dict:
    """For each injected offset K: the video of every clip delayed by K frames, then estimated;
    mean |error| and share within ``tolerance`` frames of K. ``overall`` pools every K != 0;
    K = 0 is the false-alarm check (``false_alarm_rate``: share of unshifted clips estimated
    beyond ``tolerance``)."""
    per_k, errs = {}, []
    for k in inject:
        est = estimate_all([injected(c, int(k)) for c in clips], curve_fn, offsets, desc=f"{desc} K={k:+d}")
        acc = accuracy(est, [int(k)] * len(est), tolerance)
        acc["mean_confidence"] = round(float(np.mean([e.confidence for e in est])), 4) if est else None
        per_k[str(int(k))] = acc
        if k != 0:
            errs.extend(abs(e.offset_frames - int(k)) for e in est)
    out: dict = {"tolerance_frames": tolerance, "per_offset": per_k}
    if errs:
        e = np.asarray(errs)
        out["overall"] = {"num_estimates": int(len(e)), "mean_abs_error_frames": round(float(e.mean()), 3),
                          "within_tolerance": round(float((e <= tolerance).mean()), 4)}
    if "0" in per_k:
        out["false_alarm_rate"] = round(1.0 - per_k["0"]["within_tolerance"], 4)
    return out


def mismatched_partners(clips: Sequence[ClipStreams], seed: int = 0, other_speaker: bool = True) -> list[int]:
    """For each clip, the index of another clip to take the audio from: a different speaker when
    ``other_speaker`` and one exists, else any other clip; drawn with a fixed seed."""
    rng = np.random.default_rng(seed)
    partners = []
    for i, c in enumerate(clips):
        pool = [j for j, d in enumerate(clips) if j != i and (not other_speaker or d.speaker != c.speaker)]
        if not pool:
            pool = [j for j in range(len(clips)) if j != i]
        partners.append(int(pool[rng.integers(len(pool))]) if pool else i)
    return partners


def matched_mismatched_auc(clips: Sequence[ClipStreams], curve_fn: CurveFn, offsets: Sequence[int],
                           other_speaker: bool = True, seed: int = 0) -> dict:
    """AUC of telling a clip's own audio+video (matched) from the video of one clip with the audio
    of another (mismatched: another speaker's when ``other_speaker``), for three clip scores:
    the score at offset 0, the best score over the offsets, and the confidence margin."""
    matched = estimate_all(clips, curve_fn, offsets, desc="matched pairs")
    partners = mismatched_partners(clips, seed, other_speaker)
    same_speaker = sum(clips[i].speaker == clips[j].speaker for i, j in enumerate(partners))
    mism = estimate_all([pair_clip(clips[i], clips[j]) for i, j in enumerate(partners)], curve_fn, offsets,
                        desc="mismatched pairs")
    out = {"num_pairs": len(clips), "mismatched_same_speaker": int(same_speaker)}
    for key in ("score_at_zero", "score", "confidence"):
        out[f"auc_{key}"] = roc_auc([getattr(e, key) for e in matched], [getattr(e, key) for e in mism])
    return out


def summarize_estimates(estimates: Sequence[OffsetEstimate], tolerance: int) -> dict:
    off = np.array([e.offset_frames for e in estimates])
    conf = np.array([e.confidence for e in estimates])
    return {"num_clips": int(len(off)),
            "beyond_tolerance": int((np.abs(off) > tolerance).sum()) if len(off) else 0,
            "median_confidence": round(float(np.median(conf)), 4) if len(conf) else None,
            "offset_histogram": {str(int(k)): int(v) for k, v in zip(*np.unique(off, return_counts=True))}}


def confidence_threshold(estimates: Sequence[OffsetEstimate], quantile: float = 0.05) -> Optional[float]:
    """A confidence below which an estimate is not trusted: the ``quantile`` of the confidences
    of (in-sync) clips; used to choose a default ``min_confidence``."""
    conf = [e.confidence for e in estimates if np.isfinite(e.confidence)]
    return round(float(np.quantile(conf, quantile)), 4) if conf else None
