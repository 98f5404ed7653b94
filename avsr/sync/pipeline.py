"""What the sync CLIs run: settings from conf/sync.yaml, an estimator (learned or xcorr), the
QA stage end to end, and the checks on injected offsets."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Optional, Sequence, Union

from lhotse import CutSet

from avsr.sync.estimate import CurveFn, OffsetEstimate, candidate_offsets, estimate_all
from avsr.sync.model import SyncModelConfig, SyncNet
from avsr.sync.qa import QaPolicy, apply_policy, decide, original_clean_cuts
from avsr.sync.report import clip_rows, histogram, plot_qa
from avsr.sync.scoring import METHODS, make_curve_fn
from avsr.sync.streams import ClipStreams, injected, load_all
from avsr.sync.train import SyncTrainConfig, load_sync_model, save_sync_model, train_sync_model
from avsr.sync.xcorr import XcorrConfig
from avsr.utils.config import load_yaml
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_json_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


def _build(cls, section: dict, path: PathLike):
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(section) - names)
    if unknown:
        raise AvsrInputError(path, f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    return cls(**section)


@dataclass
class SyncSettings:
    model: SyncModelConfig
    train: SyncTrainConfig
    xcorr: XcorrConfig
    max_offset: int
    min_windows: int
    video_stride: int
    qa: dict

    @classmethod
    def load(cls, path: PathLike) -> "SyncSettings":
        conf = load_yaml(path)
        est = conf.get("estimate", {})
        return cls(_build(SyncModelConfig, conf.get("model", {}), path), _build(SyncTrainConfig, conf.get("train", {}), path),
                   _build(XcorrConfig, conf.get("xcorr", {}), path), int(est.get("max_offset", 15)),
                   int(est.get("min_windows", 10)), int(est.get("video_stride", 1)), dict(conf.get("qa", {})))

    def min_confidence(self, method: str) -> float:
        value = self.qa.get("min_confidence", 0.0)
        return float(value.get(method, 0.0) if isinstance(value, dict) else value)


def load_clips(cuts: CutSet, settings: SyncSettings, desc: str = "sync streams") -> list[ClipStreams]:
    return load_all(cuts, settings.model.audio_source, settings.model.video_pool, desc)


def build_estimator(method: str, settings: SyncSettings, model: Optional[SyncNet] = None) -> CurveFn:
    if method not in METHODS:
        raise AvsrInputError(None, f"unknown sync method {method!r} (one of {', '.join(METHODS)})")
    if model is not None and method == "learned":
        m = model.cfg
        if (m.audio_source, m.video_pool) != (settings.model.audio_source, settings.model.video_pool):
            log.info("sync model inputs: %s, crops pooled by %d (from the model, not the conf)", m.audio_source, m.video_pool)
    return make_curve_fn(method, candidate_offsets(settings.max_offset), model, settings.xcorr, settings.min_windows,
                         settings.video_stride)


def clips_for_model(cuts: CutSet, model: Optional[SyncNet], settings: SyncSettings, desc: str) -> list[ClipStreams]:
    """Streams in the input format of the model (pooling / audio source as it was trained)."""
    if model is None:
        return load_clips(cuts, settings, desc)
    return load_all(cuts, model.cfg.audio_source, model.cfg.video_pool, desc)


def train_model(train_cuts: CutSet, settings: SyncSettings, out_dir: Optional[PathLike], steps: Optional[int] = None,
                loss: Optional[str] = None, valid_cuts: Optional[CutSet] = None) -> tuple[SyncNet, dict]:
    cfg = settings.train
    if steps is not None or loss is not None:
        cfg = SyncTrainConfig(**{**cfg.__dict__, **({"steps": steps} if steps is not None else {}),
                                 **({"loss": loss} if loss is not None else {})})
    train = load_clips(train_cuts, settings, "sync train streams")
    valid = load_clips(valid_cuts, settings, "sync valid streams") if valid_cuts is not None else None
    model, info = train_sync_model(train, settings.model, cfg, valid)
    if out_dir is not None:
        save_sync_model(model, out_dir, cfg, info)
    return model, info


def estimate_cuts(cuts: CutSet, method: str, settings: SyncSettings, model: Optional[SyncNet] = None,
                  inject: int = 0, desc: str = "offsets") -> list[OffsetEstimate]:
    clips = clips_for_model(cuts, model, settings, f"{desc}: load")
    return estimate_all([injected(c, inject) for c in clips], build_estimator(method, settings, model),
                        candidate_offsets(settings.max_offset), desc=desc)


def training_key(feature_dir: PathLike, corpus: str, video_dir: PathLike, model_cfg: SyncModelConfig,
                 cfg: SyncTrainConfig) -> str:
    """What a QA-trained model depends on: the original train manifest and both configs."""
    import hashlib

    from avsr.sync.qa import Originals, file_sha256

    orig = Originals(feature_dir, corpus, video_dir).orig_dir / f"{corpus}_cuts_train.jsonl.gz"
    data = file_sha256(orig) if orig.is_file() else "no-train-split"
    text = json.dumps([data, model_cfg.to_dict(), {k: v for k, v in asdict(cfg).items() if k not in ("log_every", "device")}],
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cached_model(out: Path, key: str) -> Optional[tuple[SyncNet, dict]]:
    meta_path = out / "model.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("training_key") != key:
        return None
    model, meta = load_sync_model(out)
    return model, {"num_train_clips": meta.get("num_train_clips"), "history": meta.get("history", [])}


def has_mouth_roi(cuts: CutSet) -> bool:
    return all(c.has_custom("mouth_roi") for c in cuts)


def run_sync_qa(feature_dir: PathLike, corpus: str, video_dir: PathLike, settings: SyncSettings, method: str,
                policy: QaPolicy, model_dir: Optional[PathLike] = None, train_steps: Optional[int] = None,
                report_path: Optional[PathLike] = None, plot_path: Optional[PathLike] = None,
                seed_model_dir: Optional[PathLike] = None, num_threads: Optional[int] = None) -> dict:
    """The QA stage: estimate (on the original clean splits), decide, rewrite every cut set,
    write the report (+ plot). ``model_dir``: a trained sync model; without one (method
    learned) a model is trained on the train split for ``train_steps`` steps and saved to
    ``seed_model_dir`` (default <video_dir>/sync_model); ``num_threads``: torch threads for
    training and estimation (default: train.num_threads of the conf)."""
    import torch

    t0, cpu0 = time.time(), time.process_time()
    threads = int(num_threads or settings.train.num_threads)
    torch.set_num_threads(max(1, threads))
    if threads != settings.train.num_threads:
        settings = SyncSettings(settings.model, SyncTrainConfig(**{**settings.train.__dict__, "num_threads": threads}),
                                settings.xcorr, settings.max_offset, settings.min_windows, settings.video_stride, settings.qa)
    video_dir = Path(video_dir)
    report_path = Path(report_path or video_dir / "sync_report.json")
    splits = original_clean_cuts(feature_dir, corpus, video_dir)
    if not all(has_mouth_roi(c) for c in splits.values()):
        report = {"skipped": "the cuts carry no mouth_roi arrays (audio-only corpus): nothing to check",
                  "num_clips": 0, "num_flagged": 0, "num_corrected": 0, "num_dropped": 0, "clips": []}
        write_json_atomic(report_path, report)
        log.info("sync QA skipped: %s", report["skipped"])
        return report
    model, model_info = None, {}
    clips: dict[str, list[ClipStreams]] = {}
    if method == "learned" and model_dir is not None:
        model, meta = load_sync_model(model_dir)
        model_info = {"model_dir": str(model_dir), "trained_here": False, "loss": meta["train_config"]["loss"]}
    for name, cuts in splits.items():  # loaded once: the model trained here reads the same streams
        clips[name] = clips_for_model(cuts, model, settings, f"sync {name}: load")
    if method == "learned" and model is None:
        train_clips = clips.get("train") or [c for v in clips.values() for c in v]
        steps = int(train_steps if train_steps is not None else settings.qa.get("train_steps", 40))
        out = Path(seed_model_dir or video_dir / "sync_model")
        t1 = time.time()
        cfg = SyncTrainConfig(**{**settings.train.__dict__, "steps": steps})
        key = training_key(feature_dir, corpus, video_dir, settings.model, cfg)
        cached = _cached_model(out, key)
        if cached is not None:  # a re-run (e.g. another policy): the same data and settings made this model
            model, info = cached
        else:
            model, info = train_sync_model(train_clips, settings.model, cfg)
            save_sync_model(model, out, cfg, info, extra={"training_key": key})
        model_info = {"model_dir": str(out), "trained_here": cached is None, "reused": cached is not None,
                      "train_steps": steps, "loss": cfg.loss, "train_clips": info["num_train_clips"],
                      "train_seconds": round(time.time() - t1, 1)}
    t_est = time.time()
    estimator = build_estimator(method, settings, model)
    estimates, split_of = [], []
    for name, cl in clips.items():
        est = estimate_all(cl, estimator, candidate_offsets(settings.max_offset), desc=f"sync {name}")
        estimates.extend(est)
        split_of.extend([name] * len(est))
    est_seconds = time.time() - t_est
    actions = [decide(e, policy) for e in estimates]
    decisions = {e.cut_id: (a, e.offset_frames) for e, a in zip(estimates, actions)}
    set_stats = apply_policy(feature_dir, corpus, video_dir, decisions)
    rows = clip_rows(estimates, [{"split": s, "action": a} for s, a in zip(split_of, actions)])
    flagged = [a for a in actions if a in ("kept", "dropped", "shifted")]
    report = {
        "method": method, **({"model": model_info} if model_info else {}),
        "policy": policy.policy, "tolerance_frames": policy.tolerance, "tolerance_ms": policy.tolerance * 40,
        "min_confidence": policy.min_confidence, "max_offset_frames": settings.max_offset,
        "num_clips": len(rows), "num_flagged": len(flagged),
        "num_uncertain": actions.count("uncertain"), "num_corrected": actions.count("shifted"),
        "num_dropped": actions.count("dropped"),
        "offset_histogram": histogram([e.offset_frames for e in estimates]),
        "per_split": {s: {"clips": split_of.count(s),
                          "flagged": sum(1 for x, a in zip(split_of, actions) if x == s and a in ("kept", "dropped", "shifted"))}
                      for s in splits},
        "sets": set_stats,
        "seconds": {"estimate": round(est_seconds, 1), "total": round(time.time() - t0, 1),
                    "cpu_total": round(time.process_time() - cpu0, 1), "threads": threads},
        "clips": rows,
    }
    if plot_path is not None:
        plot_qa(rows, plot_path, policy.tolerance, policy.min_confidence, settings.max_offset,
                title=f"AV sync QA: {corpus}, {method}, policy {policy.policy}")
        report["plot"] = str(plot_path)
    write_json_atomic(report_path, report)
    log.info("sync QA (%s): %d clips, %d flagged beyond ±%d frames (%d uncertain), policy %s: %d dropped, %d shifted; %.1f s",
             method, len(rows), len(flagged), policy.tolerance, report["num_uncertain"], policy.policy,
             report["num_dropped"], report["num_corrected"], time.time() - t0)
    return report


def check_injected(cuts: CutSet, method: str, settings: SyncSettings, model: Optional[SyncNet], inject: int,
                   tolerance: int = 1) -> dict:
    """``steps/check_sync.py``: estimate every clip with its video delayed by ``inject`` frames;
    the clip rows plus mean |error| and the share within ``tolerance`` of ``inject``."""
    t0 = time.time()
    estimates = estimate_cuts(cuts, method, settings, model, inject=inject)
    errors = [abs(e.offset_frames - inject) for e in estimates]
    n = max(len(errors), 1)
    return {"method": method, "inject_offset_frames": inject, "tolerance_frames": tolerance,
            "num_clips": len(estimates),
            "mean_abs_error_frames": round(sum(errors) / n, 3),
            "within_tolerance": round(sum(e <= tolerance for e in errors) / n, 4),
            "seconds": round(time.time() - t0, 1),
            "clips": clip_rows(estimates)}


def estimates_by_id(rows: Sequence[dict]) -> dict[str, int]:
    return {r["cut_id"]: int(r["offset_frames"]) for r in rows}
