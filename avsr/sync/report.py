"""Sync reports: the JSON every estimate goes to, and the QA plot (offset histogram, confidence)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from avsr.sync.estimate import OffsetEstimate
from avsr.sync.shift import FRAME_MS
from avsr.utils.io import atomic_path

PathLike = Union[str, Path]


def clip_rows(estimates: Sequence[OffsetEstimate], extra: Optional[Sequence[dict]] = None) -> list[dict]:
    """``{"cut_id", "offset_frames", "offset_ms", "confidence", ...}`` per clip (+ per-clip extras)."""
    rows = []
    for i, e in enumerate(estimates):
        row = {"cut_id": e.cut_id, "offset_frames": e.offset_frames, "offset_ms": round(e.offset_ms, 1),
               "confidence": e.confidence, "score": e.score}
        if extra is not None:
            row.update(extra[i])
        rows.append(row)
    return rows


def histogram(offsets: Sequence[int]) -> dict[str, int]:
    vals, counts = np.unique(np.asarray(offsets, int), return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(vals, counts)}


def plot_qa(rows: Sequence[dict], out: PathLike, tolerance: int, min_confidence: float, max_offset: int,
            title: str = "AV sync QA") -> None:
    """Two panels: histogram of the estimated offsets (tolerance band shaded) and confidence vs
    offset per clip (flagged / uncertain / ok coloured)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    off = np.array([r["offset_frames"] for r in rows], int)
    conf = np.array([r["confidence"] for r in rows], float)
    action = [r.get("action", "ok") for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    bins = np.arange(-max_offset - 0.5, max_offset + 1.5)
    ax1.hist(off, bins=bins, color="tab:blue", edgecolor="white")
    ax1.axvspan(-tolerance - 0.5, tolerance + 0.5, color="tab:green", alpha=0.12, label=f"tolerance ±{tolerance} frames")
    ax1.set_yscale("log" if len(off) and np.bincount(off - off.min()).max() > 50 else "linear")
    ax1.set_xlabel("estimated offset (video frames; + = video lags audio)")
    ax1.set_ylabel("clips")
    ax1.set_title(f"offsets of {len(off)} clips ({int((np.abs(off) > tolerance).sum())} beyond tolerance)")
    sec = ax1.secondary_xaxis("top", functions=(lambda f: f * FRAME_MS, lambda ms: ms / FRAME_MS))
    sec.set_xlabel("ms")
    ax1.legend(loc="upper right", fontsize=8)
    colours = {"ok": "tab:blue", "uncertain": "tab:gray", "kept": "tab:orange", "dropped": "tab:red", "shifted": "tab:purple"}
    jitter = np.random.default_rng(0).uniform(-0.25, 0.25, len(off))
    for a in sorted(set(action)):
        m = np.array([x == a for x in action])
        ax2.scatter(off[m] + jitter[m], conf[m], s=8, alpha=0.6, color=colours.get(a, "black"), label=f"{a} ({int(m.sum())})")
    ax2.axhline(min_confidence, color="gray", lw=0.8, ls="--", label=f"min confidence {min_confidence:g}")
    for x in (-tolerance - 0.5, tolerance + 0.5):
        ax2.axvline(x, color="tab:green", lw=0.8)
    ax2.set_xlim(-max_offset - 1, max_offset + 1)
    ax2.set_xlabel("estimated offset (frames)")
    ax2.set_ylabel("confidence (best score - median score)")
    ax2.set_title("confidence per clip")
    ax2.legend(loc="upper right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def header_line(report_path: PathLike) -> Optional[str]:
    """One line for the RESULTS.md header from ``data/video/sync_report.json`` (None if absent):
    how many clips the sync QA stage checked, flagged, corrected and dropped."""
    import json

    path = Path(report_path)
    if not path.is_file():
        return None
    r = json.loads(path.read_text())
    if r.get("skipped"):
        return f"- AV sync QA: skipped ({r['skipped']})"
    return (f"- AV sync QA ({r['method']}, tolerance ±{r['tolerance_frames']} frames = ±{r['tolerance_ms']} ms, "
            f"policy {r['policy']}): {r['num_clips']} clips checked, {r['num_flagged']} flagged, "
            f"{r['num_corrected']} corrected, {r['num_dropped']} dropped, {r['num_uncertain']} uncertain")
