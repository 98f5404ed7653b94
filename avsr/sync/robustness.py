"""Robustness of the AV systems to an A/V offset: WER with the test video shifted by k frames
(k = -5..+5), before and after the QA correction (the sync estimator run on the shifted clean
clips, flagged clips shifted back by their estimate, noisy copies following their clean clip).

A *system* is anything that maps per-utterance video shifts to hypotheses; the hybrid family is
here (:class:`HybridSystem`, the stage-9 models read from their model dirs, never written).
The E2E systems plug in the same way once their loaders call
:func:`avsr.sync.shift.load_video_array` (see docs/dev-notes/sync.md).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Union

import numpy as np

from avsr.sync.shift import shift_frames

PathLike = Union[str, Path]
log = logging.getLogger(__name__)
Shifts = Mapping[str, int]  # utterance id -> video shift (frames)


class HybridSystem:
    """A stage-8 hybrid variant (or a posterior average of several) decoded through HCLG at the
    acoustic scale stage 9 chose on dev (``decode.json`` of the first member)."""

    def __init__(self, name: str, model_dirs: Sequence[PathLike], graph_dir: PathLike, feature_dir: PathLike,
                 corpus: str, set_name: str, beam: float = 13.0, weights: Optional[Sequence[float]] = None) -> None:
        import torch

        from avsr.decode.decoder import DecodingGraph
        from avsr.hybrid.pipeline import LoadedModel, load_set

        self.name = name
        self.models = [LoadedModel(d, torch.device("cpu")) for d in model_dirs]
        self.weights = weights
        decode = json.loads((Path(model_dirs[0]) / "decode.json").read_text())
        self.scale, self.beam = float(decode["acoustic_scale"]), beam
        self.graph = DecodingGraph.load(graph_dir)
        m0 = self.models[0]
        self.needs_video = any(m.needs_video for m in self.models)
        self.audio, self.video, self.clean, self.refs = load_set(feature_dir, corpus, set_name, m0.frontend.cfg.audio.source,
                                                                 m0.frontend.cfg.video.source, self.needs_video)
        self.priors = m0.log_priors

    def wer(self, shifts: Shifts) -> dict:
        """WER (+ counts) with each utterance's video shifted by ``shifts[clean id]`` frames."""
        from avsr.hybrid.evaluate import decode_scores
        from avsr.hybrid.pipeline import average_log_posteriors
        from avsr.score.wer import compute_error_stats

        video = None
        if self.video is not None:
            video = {u: shift_frames(v, int(shifts.get(self.clean[u], 0))) for u, v in self.video.items()}
        parts = [m.log_posteriors(self.audio, video if m.needs_video else None) for m in self.models]
        logpost = parts[0] if len(parts) == 1 else average_log_posteriors(parts, self.weights)
        result = decode_scores(self.graph, {u: p - self.priors for u, p in logpost.items()}, self.scale, self.beam)
        stats = compute_error_stats({u: self.refs[u] for u in result.hyps}, result.hyps)
        return {"wer": round(stats.rate, 3), "errors": int(sum(a.ins + a.dels + a.subs for a in stats.utts)),
                "words": int(sum(len(a.ref) for a in stats.utts)), "search_failures": len(result.failed)}


EstimateFn = Callable[[int], dict]  # injected offset k -> {clean id: estimated offset}


def wer_vs_offset(systems: Sequence, offsets: Sequence[int], estimate: Optional[EstimateFn] = None,
                  tolerance: int = 1, clean_ids: Optional[Sequence[str]] = None) -> dict:
    """For every injected offset k: WER of every system with all test videos shifted by k, and
    (with ``estimate``) after correcting each clip whose estimate is beyond ``tolerance`` by
    minus its estimate. Returns {"offsets", "systems": {name: {"before": [...], "after": [...]}},
    "estimates": {k: {mean_abs_error, within_1, corrected}}}."""
    out: dict = {"offsets": [int(k) for k in offsets], "tolerance_frames": tolerance, "systems": {}, "estimates": {}}
    corrections: dict[int, dict[str, int]] = {}
    if estimate is not None:
        for k in offsets:
            est = estimate(int(k))
            corr = {u: -d for u, d in est.items() if abs(d) > tolerance}
            corrections[int(k)] = corr
            err = np.abs(np.array(list(est.values())) - int(k))
            residual = np.abs(np.array([int(k) + corr.get(u, 0) for u in est]))
            out["estimates"][str(int(k))] = {"mean_abs_error": round(float(err.mean()), 3),
                                             "within_1": round(float((err <= 1).mean()), 4), "corrected": len(corr),
                                             "residual_mean_abs": round(float(residual.mean()), 3)}
    for system in systems:
        t0 = time.time()
        ids = clean_ids or sorted(set(system.clean.values()))
        rows: dict = {"before": [], "after": []}
        for k in offsets:
            base = {u: int(k) for u in ids}
            rows["before"].append(system.wer(base))
            if estimate is not None:
                fixed = {u: int(k) + corrections[int(k)].get(u, 0) for u in ids}
                rows["after"].append(rows["before"][-1] if fixed == base else system.wer(fixed))
            log.info("%s k=%+d: WER %.2f%s", system.name, k, rows["before"][-1]["wer"],
                     f" -> {rows['after'][-1]['wer']:.2f} corrected" if rows["after"] else "")
        rows["seconds"] = round(time.time() - t0, 1)
        out["systems"][system.name] = rows
    return out


def plot_wer_vs_offset(results: Mapping[str, dict], out: PathLike, title: str = "WER vs A/V offset") -> None:
    """One panel per test set: WER vs injected offset per system, before (solid) and after
    (dashed) the sync correction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from avsr.utils.io import atomic_path

    sets = list(results)
    fig, axes = plt.subplots(1, len(sets), figsize=(5.5 * len(sets), 4.2), squeeze=False)
    for ax, set_name in zip(axes[0], sets):
        res = results[set_name]
        ks = res["offsets"]
        for i, (name, rows) in enumerate(res["systems"].items()):
            colour = f"C{i}"
            ax.plot(ks, [r["wer"] for r in rows["before"]], "-o", color=colour, ms=3, label=f"{name}")
            if rows.get("after"):
                ax.plot(ks, [r["wer"] for r in rows["after"]], "--", color=colour, lw=1.2, label=f"{name}, corrected")
        ax.axvspan(-3.1, 1.1, color="tab:green", alpha=0.08)  # perceptual window: -125..+45 ms
        ax.set_xlabel("video offset (frames of 40 ms; + = video lags audio)")
        ax.set_ylabel("WER %")
        ax.set_title(set_name)
        ax.set_xticks(ks)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
