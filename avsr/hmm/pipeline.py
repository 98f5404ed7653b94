"""Stage 6 as one call per system: train a monophone or triphone GMM-HMM on a cut set, then
write its forced alignments of every requested set.

exp/<mono|tri>/
  final.json, .npz     the model, no pickle (avsr.hmm.model_io; mono: topology + transition
                       probabilities + Gaussians; tri: our tree + self-loop probabilities + Gaussians)
  ali_<set>.npz        per utterance int32 [T, 3] (pdf, phone, HMM state); see avsr.hmm.alignment
  pdf_phone.int        "pdf phone" per line: the base phone (group) of every pdf
  train.json           config, per-pass log-likelihoods, #pdfs/#Gaussians, seconds, failures
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from avsr.hmm.alignment import read_alignments, write_alignments
from avsr.hmm.cuts import gmm_feature_dict, load_cuts, transcripts
from avsr.hmm.features import GmmFeatureConfig
from avsr.hmm.lang_info import LangInfo, phone_num_states
from avsr.hmm.model_io import MODEL_FILE, load_gmm_model as _load_model
from avsr.hmm.mono import align_mono, config_dict, mono_config_from_dict, train_mono
from avsr.hmm.tri import TriConfig, align_tri, train_tri
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_json_atomic, write_text_atomic
from avsr.wfst.fstutil import file_sha256

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


def _key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def run_gmm_system(
    kind: str,
    lang_dir: PathLike,
    feature_dir: PathLike,
    corpus: str,
    out_dir: PathLike,
    conf: dict,
    train_set: str = "train",
    align_sets: Sequence[str] = ("train", "dev", "test"),
    mono_dir: Optional[PathLike] = None,
    force: bool = False,
) -> dict:
    """Train (or reuse, when inputs and config are unchanged) and align; returns train.json."""
    if kind not in ("mono", "tri"):
        raise ValueError(f"kind must be mono or tri, not {kind!r}")
    out_dir, lang_dir = Path(out_dir), Path(lang_dir)
    lang = LangInfo.load(lang_dir)
    feat_cfg = GmmFeatureConfig(**conf.get("features", {}))
    inputs = {"lang/L.fst": file_sha256(lang_dir / "L.fst"), "lang/topo": file_sha256(lang_dir / "topo")}
    for s in sorted(set([train_set, *align_sets])):
        inputs[f"cuts/{s}"] = file_sha256(Path(feature_dir) / f"{corpus}_cuts_{s}.jsonl.gz") if (Path(feature_dir) / f"{corpus}_cuts_{s}.jsonl.gz").is_file() else None
    if kind == "tri":
        if mono_dir is None:
            raise ValueError("a triphone system needs --mono-dir (its alignments feed the tree)")
        for s in sorted(set([train_set, *align_sets])):
            inputs[f"mono/ali_{s}"] = file_sha256(Path(mono_dir) / f"ali_{s}.npz") if (Path(mono_dir) / f"ali_{s}.npz").is_file() else None
    # Only the sections this system reads: editing the tri section must not retrain mono.
    key = _key({"kind": kind, "conf": {k: conf.get(k) for k in ("features", kind)}, "inputs": inputs, "train_set": train_set, "align_sets": list(align_sets)})
    summary_path = out_dir / "train.json"
    if summary_path.is_file() and not force and json.loads(summary_path.read_text()).get("key") == key:
        log.info("%s is up to date: skipped", out_dir)
        return {**json.loads(summary_path.read_text()), "skipped": True}
    t0 = time.time()
    cuts = {s: load_cuts(feature_dir, corpus, s) for s in dict.fromkeys([train_set, *align_sets])}
    feats = {s: gmm_feature_dict(c, feat_cfg, desc=f"GMM features {s}") for s, c in cuts.items()}
    texts = {s: transcripts(c) for s, c in cuts.items()}
    history: list = []
    failed: dict[str, list[str]] = {}
    t_feat = time.time()
    if kind == "mono":
        cfg = mono_config_from_dict(conf.get("mono"))
        model, _ = train_mono(lang, feats[train_set], texts[train_set], cfg, history)
        model.feature_config = asdict(feat_cfg)
        t_train = time.time()
        alignments = {}
        for s in align_sets:
            alignments[s], failed[s] = align_mono(model, lang, feats[s], texts[s], cfg)
        cfg_dict = config_dict(cfg)
    else:
        cfg = TriConfig(**{k: (tuple(v) if k == "realign_iters" else v) for k, v in (conf.get("tri") or {}).items()})
        mono_ali = {s: read_alignments(Path(mono_dir) / f"ali_{s}.npz") for s in dict.fromkeys([train_set, *align_sets])}
        model, train_ali = train_tri(feats[train_set], mono_ali[train_set], phone_num_states(lang.topo_text), cfg, history)
        model.feature_config = asdict(feat_cfg)
        t_train = time.time()
        alignments = {s: (train_ali if s == train_set else align_tri(model, feats[s], mono_ali[s])) for s in align_sets}
        for s in align_sets:
            failed[s] = sorted(set(texts[s]) - set(alignments[s]))
        cfg_dict = config_dict(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / MODEL_FILE)
    # The model's phone ids: a new lexicon must keep them (prepare_lang --phone-table) for the
    # model to decode through a swapped graph.
    write_text_atomic(out_dir / "phones.txt", (lang_dir / "phones.txt").read_text(encoding="utf-8"))
    for s, ali in alignments.items():
        if not ali:
            raise AvsrInputError(out_dir / f"ali_{s}.npz", f"no utterance of {s} could be aligned")
        write_alignments(out_dir / f"ali_{s}.npz", ali)
    pdf_phone = model.pdf_phones()
    write_text_atomic(out_dir / "pdf_phone.int", "".join(f"{i} {p}\n" for i, p in enumerate(pdf_phone)))
    summary = {
        "key": key, "kind": kind, "lang": str(lang_dir), "train_set": train_set, "config": cfg_dict,
        "features": asdict(feat_cfg), "num_pdfs": int(model.num_pdfs), "num_gauss": int(model.am.num_gauss),
        "num_phones_with_pdfs": int(len(set(pdf_phone.tolist()))),
        "aligned": {s: len(a) for s, a in alignments.items()}, "failed": failed, "history": history,
        "seconds": {"features": round(t_feat - t0, 2), "train": round(t_train - t_feat, 2), "align": round(time.time() - t_train, 2)},
    }
    write_json_atomic(summary_path, summary)
    log.info("%s: %d pdfs, %d Gaussians, %.1f s", out_dir, model.num_pdfs, model.am.num_gauss, time.time() - t0)
    return summary


def load_gmm_model(model_dir: PathLike):
    """GmmHmm (mono) or TriphoneModel (tri) from ``model_dir/final.json`` (+ final.npz)."""
    return _load_model(model_dir)


def read_pdf_phone(model_dir: PathLike) -> np.ndarray:
    path = Path(model_dir) / "pdf_phone.int"
    if not path.is_file():
        raise AvsrInputError(path, "missing: run stage 6")
    rows = np.loadtxt(path, dtype=np.int64, ndmin=2)
    return rows[:, 1]
