"""Stages 8-9 for one hybrid variant: fit the front-end, train the DNN on CD-state
alignments, then score every evaluation set (frame PER; WER/PER through HCLG with
pseudo-likelihoods log p(s|x) - log p(s), acoustic scale chosen on dev).

exp/hybrid_<variant>/
  frontend.npz     LDA + normalisation of both streams (avsr.hybrid.frontend)
  final.pt         {"model_config", "state_dict", "dims", "num_classes", "group_of_class",
                    "class_counts", "splices", "train_config", "ali_dir"}
  train.json       key, history, parameter counts, seconds, peak memory
  score_<set>/     summary.json (+ hyp.txt, wer, per); see avsr.hybrid.evaluate
  decode.json      acoustic-scale sweep on dev and the chosen scale
A posterior-averaging "variant" has no final.pt: its conf names the member model dirs.

Audio-only corpora (no ``roi_dct`` arrays in the cuts) train and score the audio variant
without a video stream; a variant that reads video fails on them with a one-line error.
"""
from __future__ import annotations

import hashlib
import json
import logging
import resource
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from avsr.data.splits import base_split
from avsr.hmm.alignment import read_alignments
from avsr.hmm.cuts import cuts_file, load_cuts, speakers, transcripts
from avsr.hmm.pipeline import read_pdf_phone
from avsr.hybrid.data import build_frame_set, load_raw_streams, pdf_labels
from avsr.hybrid.evaluate import SetScores, log_priors, sweep_and_score
from avsr.hybrid.frontend import FrontEnd, FrontEndConfig
from avsr.hybrid.models import HybridModel, ModelConfig
from avsr.hybrid.train import TrainConfig, resolve_device, train_model
from avsr.models.bilinear import num_parameters
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path, write_json_atomic
from avsr.wfst.fstutil import file_sha256

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def needs_video(variant: str) -> bool:
    """Whether a hybrid variant reads the video stream (all but the audio net)."""
    return variant != "audio"


def _ali_model_kind(ali_dir: PathLike) -> Optional[str]:
    """"mono" / "tri": what the frame targets are (monophone states or senones); None if unknown."""
    from avsr.hmm.model_io import model_kind

    try:
        return model_kind(ali_dir)
    except AvsrInputError:
        return None


def _labels_for(ali_dir: Path, set_name: str) -> dict[str, np.ndarray]:
    """Targets of a set: the alignment of its clean base set (dev_babble_snr0 -> dev)."""
    base = base_split(set_name)
    return pdf_labels(read_alignments(ali_dir / f"ali_{base}.npz"))


def load_set(feature_dir: PathLike, corpus: str, set_name: str, audio_source: str, video_source: str, require_video: bool = False,
             with_speakers: bool = False):
    """(audio, video or None, clean ids, transcripts[, speakers]) of one cut set (see load_raw_streams)."""
    cuts = load_cuts(feature_dir, corpus, set_name)
    audio, video, clean = load_raw_streams(cuts, audio_source, video_source, require_video, cuts_file(feature_dir, corpus, set_name))
    if with_speakers:
        return audio, video, clean, transcripts(cuts), speakers(cuts)
    return audio, video, clean, transcripts(cuts)


def train_hybrid(conf: dict, feature_dir: PathLike, corpus: str, ali_dir: PathLike, out_dir: PathLike,
                 device: str = "auto", num_threads: int = 1, force: bool = False) -> dict:
    """Train one variant from its conf (conf/hybrid_<variant>.yaml); skipped when up to date."""
    out_dir, ali_dir = Path(out_dir), Path(ali_dir)
    if "members" in conf:
        return {"skipped": True, "note": "posterior averaging: nothing to train"}
    model_cfg = ModelConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in conf["model"].items()})
    train_cfg = TrainConfig(**conf.get("train", {}))
    fe_cfg = FrontEndConfig.from_dict(conf.get("frontend"))
    train_set, dev_set = conf.get("train_set", "train"), conf.get("dev_set", "dev")
    init = conf.get("init_towers") or {}
    inputs = {"ali_train": file_sha256(ali_dir / "ali_train.npz"), "ali_dev": file_sha256(ali_dir / f"ali_{base_split(dev_set)}.npz")}
    for k in ("audio", "video"):
        if init.get(k):
            inputs[f"init_{k}"] = file_sha256(Path(init[k]) / "final.pt")
    key = hashlib.sha256(json.dumps({"conf": conf, "inputs": inputs, "feature_dir": str(feature_dir)}, sort_keys=True).encode()).hexdigest()
    if (out_dir / "train.json").is_file() and (out_dir / "final.pt").is_file() and not force:
        if json.loads((out_dir / "train.json").read_text()).get("key") == key:
            log.info("%s is up to date: skipped", out_dir)
            return {**json.loads((out_dir / "train.json").read_text()), "skipped": True}
    torch.set_num_threads(max(num_threads, 1))
    dev_ = resolve_device(device)
    t0 = time.time()
    a_src, v_src = fe_cfg.audio.source, fe_cfg.video.source
    with_video = needs_video(model_cfg.variant)
    tr_audio, tr_video, tr_clean, _ = load_set(feature_dir, corpus, train_set, a_src, v_src, with_video)
    dv_audio, dv_video, dv_clean, _ = load_set(feature_dir, corpus, dev_set, a_src, v_src, with_video)
    tr_labels, dv_labels = _labels_for(ali_dir, "train"), _labels_for(ali_dir, dev_set)
    t_load = time.time()
    # LDA on the clean training utterances (their own alignment) only.
    clean_ids = [u for u in tr_audio if tr_clean[u] == u and u in tr_labels]
    if not clean_ids:
        raise AvsrInputError(ali_dir / "ali_train.npz", f"no training utterance of {train_set} has an alignment")
    # an audio-only corpus (tr_video None) fits no video transform
    fit_video = {u: tr_video[u] for u in clean_ids} if tr_video is not None else None
    frontend = FrontEnd(fe_cfg).fit({u: tr_audio[u] for u in clean_ids}, fit_video, tr_labels, seed=train_cfg.seed)
    train = build_frame_set(frontend, tr_audio, tr_video, tr_labels, tr_clean)
    dev = build_frame_set(frontend, dv_audio, dv_video, dv_labels, dv_clean)
    del tr_audio, tr_video, dv_audio, dv_video
    t_fe = time.time()
    num_classes = int(len(read_pdf_phone(ali_dir)))
    group_of_class = torch.as_tensor(read_pdf_phone(ali_dir), dtype=torch.long)
    _, group_ids = torch.unique(group_of_class, return_inverse=True)  # groups renumbered 0..G-1
    splices = (fe_cfg.audio.splice, fe_cfg.video.splice)
    da = train.audio.shape[1] * (2 * splices[0] + 1)
    dv = train.video.shape[1] * (2 * splices[1] + 1) if train.video is not None else 0
    torch.manual_seed(train_cfg.seed)
    model = HybridModel(model_cfg, da, dv, num_classes, group_ids)
    if init:
        states = {k: torch.load(Path(init[k]) / "final.pt", map_location="cpu", weights_only=True)["state_dict"] if init.get(k) else None for k in ("audio", "video")}
        model.load_towers(states["audio"], states["video"], freeze=bool(conf.get("freeze_towers", False)))
    history = train_model(model, train, dev, splices, train_cfg, dev_)
    t_train = time.time()
    out_dir.mkdir(parents=True, exist_ok=True)
    frontend.save(out_dir / "frontend.npz")
    with atomic_path(out_dir / "final.pt") as tmp:
        torch.save({"model_config": asdict(model_cfg), "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                    "dims": [da, dv], "num_classes": num_classes, "group_of_class": group_ids, "class_counts": torch.from_numpy(np.bincount(train.labels[train.labels >= 0], minlength=num_classes)),
                    
                    "splices": list(splices), "train_config": asdict(train_cfg), "ali_dir": str(ali_dir)}, tmp)
    fusion_params = num_parameters(model.fusion) if hasattr(model, "fusion") else 0
    summary = {
        "key": key, "variant": model_cfg.variant, "architecture": architecture_string(model_cfg, da, dv, num_classes, int(group_ids.max()) + 1),
        "num_classes": num_classes, "num_groups": int(group_ids.max()) + 1, "train_frames": train.num_frames, "dev_frames": dev.num_frames,
        "parameters": num_parameters(model), "trainable_parameters": num_parameters(model, trainable_only=True), "fusion_parameters": fusion_params,
        "history": history, "device": str(dev_), "threads": num_threads,
        "seconds": {"load": round(t_load - t0, 2), "frontend": round(t_fe - t_load, 2), "train": round(t_train - t_fe, 2), "total": round(time.time() - t0, 2)},
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }
    write_json_atomic(out_dir / "train.json", summary)
    return summary


def architecture_string(cfg: ModelConfig, da: int, dv: int, num_classes: int, num_groups: int) -> str:
    """The paper's notation, e.g. [360,500,500,200,C | 540,500,500,200,C | F=200]."""
    a = ",".join(str(x) for x in [da, *cfg.audio_hidden, num_classes])
    v = ",".join(str(x) for x in [dv, *cfg.video_hidden, num_classes])
    if cfg.variant == "audio":
        return f"[{a}]"
    if cfg.variant == "video":
        return f"[{v}]"
    if cfg.variant == "concat":
        return "[" + ",".join(str(x) for x in [da + dv, *cfg.concat_hidden, num_classes]) + "]"
    tail = {"deep_fusion": "fused " + ",".join(str(x) for x in [cfg.audio_hidden[-1] + cfg.video_hidden[-1], *cfg.fusion_hidden, num_classes]),
            "shallow_fusion": f"fused {cfg.audio_hidden[-1] + cfg.video_hidden[-1]},{num_classes}",
            "bilinear": "bilinear softmax", "factored": f"F={cfg.fusion_dim}",
            "shared_factored": f"F={cfg.fusion_dim}, G={num_groups}"}[cfg.variant]
    return f"[{a} | {v} | {tail}]"


class LoadedModel:
    """A trained variant ready to score raw cut arrays."""

    def __init__(self, model_dir: PathLike, device: torch.device) -> None:
        model_dir = Path(model_dir)
        if not (model_dir / "final.pt").is_file():
            raise AvsrInputError(model_dir / "final.pt", "model does not exist: run stage 8")
        state = torch.load(model_dir / "final.pt", map_location="cpu", weights_only=True)
        cfg = ModelConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in state["model_config"].items()})
        self.model = HybridModel(cfg, *state["dims"], state["num_classes"], state["group_of_class"])
        self.needs_video = needs_video(cfg.variant)
        self.model.load_state_dict(state["state_dict"])
        self.model.to(device).eval()
        self.frontend = FrontEnd.load(model_dir / "frontend.npz")
        counts = state["class_counts"].numpy()
        self.log_priors = log_priors(np.repeat(np.arange(len(counts)), counts), len(counts))
        self.splices = tuple(state["splices"])
        self.device = device
        self.ali_dir = Path(state["ali_dir"])

    @torch.no_grad()
    def log_posteriors(self, audio: dict, video: Optional[dict]) -> dict[str, np.ndarray]:
        data = build_frame_set(self.frontend, audio, video)
        out = {}
        for utt, frames in data.utterances():
            a, v, _ = data.batch(frames, self.splices[0], self.splices[1], self.device)
            out[utt] = torch.log_softmax(self.model(a, v), dim=-1).cpu().numpy()
        return out


def average_log_posteriors(parts: Sequence[dict[str, np.ndarray]], weights: Optional[Sequence[float]] = None) -> dict[str, np.ndarray]:
    """log of the weighted average of posteriors (posterior averaging / late fusion)."""
    w = np.asarray(weights if weights is not None else [1.0] * len(parts), np.float64)
    w = w / w.sum()
    out = {}
    for utt in parts[0]:
        stack = np.stack([p[utt] for p in parts])  # [M, T, C]
        m = stack.max(axis=0)
        out[utt] = (m + np.log(np.einsum("m,mtc->tc", w, np.exp(stack - m)))).astype(np.float32)
    return out


def evaluate_hybrid(
    conf: dict,
    model_dir: PathLike,
    feature_dir: PathLike,
    corpus: str,
    sets: Sequence[str],
    graph_dir: Optional[PathLike] = None,
    lexicon_file: Optional[PathLike] = None,
    dev_set: str = "dev",
    scales: Sequence[float] = (0.05, 0.067, 0.083, 0.1, 0.125, 0.15, 0.2),
    beam: float = 13.0,
    device: str = "auto",
    num_threads: int = 1,
    phone_graph_dir: Optional[PathLike] = None,
    phone_sets: Optional[Sequence[str]] = None,
) -> dict[str, dict]:
    """Score one variant (or a posterior average of several) on every set; returns summaries.
    ``phone_sets``: the sets decoded through the phone graph for PER (default: all; the others
    get PER from the word hypotheses)."""
    from avsr.decode.decoder import DecodingGraph
    from avsr.lang.lexicon import read_lexicon

    torch.set_num_threads(max(num_threads, 1))
    model_dir = Path(model_dir)
    dev_ = resolve_device(device)
    members = conf.get("members")
    models = [LoadedModel(m, dev_) for m in members] if members else [LoadedModel(model_dir, dev_)]
    weights = conf.get("weights")
    ali_dir = models[0].ali_dir
    priors = models[0].log_priors
    graph = DecodingGraph.load(graph_dir) if graph_dir else None
    phone_graph = DecodingGraph.load(phone_graph_dir) if phone_graph_dir else None
    lexicon = read_lexicon(lexicon_file) if lexicon_file else None
    system = model_dir.name
    a_src, v_src = models[0].frontend.cfg.audio.source, models[0].frontend.cfg.video.source

    def scores_of(set_name: str):
        audio, video, clean, refs, spk = load_set(feature_dir, corpus, set_name, a_src, v_src, any(m.needs_video for m in models),
                                                  with_speakers=True)
        parts = [m.log_posteriors(audio, video) for m in models]
        logpost = parts[0] if len(parts) == 1 else average_log_posteriors(parts, weights)
        labels_clean = _labels_for(ali_dir, set_name)
        labels = {u: labels_clean[clean[u]] for u in logpost if clean[u] in labels_clean}
        return SetScores(logpost, {u: m - priors for u, m in logpost.items()}, labels, refs, spk)

    # frame targets: the alignment model's pdfs (the tri tree's senones in the default recipe)
    targets = {"source": Path(ali_dir).name, "num_classes": int(len(priors)), "kind": _ali_model_kind(ali_dir)}
    return sweep_and_score(model_dir, scores_of, sets, graph, graph_dir, lexicon, phone_graph, phone_sets,
                           dev_set, scales, beam, extra={"members": members or [str(model_dir)]}, frame_targets=targets)
