"""Triphone GMM-HMM on our decision tree (Kaldi's train_deltas.sh, written around what
kaldi-hmm-gmm offers): tree stats from the monophone alignment -> tree -> convert the
alignment to senones (convert-ali) -> one Gaussian per senone -> EM with mixture splitting
(kaldi-hmm-gmm's AmDiagGmm accumulators/updates) -> Viterbi re-alignment at chosen passes.

Re-alignment keeps each utterance's phone sequence (pronunciations and optional silences as
the monophone alignment chose them) and re-estimates the boundaries with the triphone model:
a linear left-to-right chain, so no training graph is needed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import kaldi_hmm_gmm as khg
import numpy as np
from tqdm import tqdm

from avsr.hmm.alignment import FrameAlignment
from avsr.hmm.mono import floor_variances, gmm_log_likelihoods
from avsr.hmm.split import split_by_count
from avsr.hmm.tree import DecisionTree, TreeConfig, accumulate_tree_stats, build_tree, frame_contexts

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


@dataclass
class TriConfig:
    num_leaves: int = 300
    total_gauss: int = 3000
    num_iters: int = 20
    max_iter_inc: int = 15
    realign_iters: Sequence[int] = (5, 10, 15)
    min_leaf_count: float = 40.0
    min_gain: float = 10.0
    power: float = 0.25
    perturb_factor: float = 0.01
    min_gaussian_occupancy: float = 3.0
    self_loop_floor: float = 0.05
    var_floor_frac: float = 0.0  # > 0: relative variance floor (avsr.hmm.mono.floor_variances)


@dataclass
class TriphoneModel:
    """Senone GMMs + tree + per-(phone, state) self-loop probabilities."""

    tree: DecisionTree
    am: object  # khg.AmDiagGmm, one pdf per senone
    self_loop: dict  # (phone, state) -> self-loop probability
    phone_states: dict  # phone -> number of HMM states
    feature_config: dict = field(default_factory=dict)

    @property
    def num_pdfs(self) -> int:
        return self.tree.num_leaves

    kind = "tri"

    def save(self, path: PathLike) -> None:
        """final.json + final.npz (avsr.hmm.model_io): no pickle."""
        from avsr.hmm.model_io import save_gmm_model

        save_gmm_model(self, path)

    @classmethod
    def load(cls, path: PathLike) -> "TriphoneModel":
        from avsr.hmm.model_io import load_gmm_model

        model = load_gmm_model(path)
        if not isinstance(model, cls):
            raise ValueError(f"{path} is not a triphone model (kind={model.kind!r})")
        return model

    def pdf_phones(self) -> np.ndarray:
        return np.asarray(self.tree.leaf_phone, np.int32)

    def log_likelihoods(self, feats: np.ndarray) -> np.ndarray:
        return gmm_log_likelihoods(self.am, feats)

    def convert(self, ali: FrameAlignment) -> FrameAlignment:
        """The same segmentation with senone ids (Kaldi's convert-ali)."""
        ctx = frame_contexts(ali)
        pdf = np.array([self.tree.pdf(*map(int, c)) for c in ctx], np.int32)
        return FrameAlignment(pdf, ali.phone, ali.state)

    def align(self, feats: np.ndarray, ali: FrameAlignment) -> FrameAlignment:
        """Viterbi re-alignment keeping ``ali``'s phone sequence."""
        segs = ali.phone_segments()
        chain = []  # (phone, state, pdf, log p_loop, log p_exit)
        for i, (phone, _, _) in enumerate(segs):
            left = segs[i - 1][0] if i > 0 else 0
            right = segs[i + 1][0] if i + 1 < len(segs) else 0
            for s in range(self.phone_states[phone]):
                p = self.self_loop.get((phone, s), 0.5)
                chain.append((phone, s, self.tree.pdf(left, phone, right, s), np.log(p), np.log1p(-p)))
        ll = self.log_likelihoods(feats)
        num_t, num_s = len(feats), len(chain)
        if num_t < num_s:
            return ali
        pdfs = np.array([c[2] for c in chain])
        stay = np.array([c[3] for c in chain])
        move = np.array([c[4] for c in chain])
        emit = ll[:, pdfs]
        score = np.full(num_s, -np.inf)
        score[0] = emit[0, 0]
        back = np.zeros((num_t, num_s), bool)  # True = came from the previous state
        for t in range(1, num_t):
            from_prev = np.full(num_s, -np.inf)
            from_prev[1:] = score[:-1] + move[:-1]
            from_self = score + stay
            back[t] = from_prev > from_self
            score = np.maximum(from_prev, from_self) + emit[t]
        path = np.zeros(num_t, np.int64)
        s = num_s - 1
        for t in range(num_t - 1, -1, -1):
            path[t] = s
            if t > 0 and back[t, s]:
                s -= 1
        return FrameAlignment(pdfs[path], [chain[i][0] for i in path], [chain[i][1] for i in path])


def estimate_self_loops(alignments: Mapping[str, FrameAlignment], floor: float = 0.05) -> dict:
    """p(self-loop) of each (phone, state) = (frames - visits) / frames over the alignments."""
    frames: dict = {}
    visits: dict = {}
    for ali in alignments.values():
        change = np.ones(len(ali), bool)
        change[1:] = (ali.phone[1:] != ali.phone[:-1]) | (ali.state[1:] != ali.state[:-1])
        for p, s, c in zip(ali.phone.tolist(), ali.state.tolist(), change.tolist()):
            frames[(p, s)] = frames.get((p, s), 0) + 1
            visits[(p, s)] = visits.get((p, s), 0) + int(c)
    return {k: float(min(max((frames[k] - visits[k]) / frames[k], floor), 1 - floor)) for k in frames}


def _init_am(tree: DecisionTree, stats, var_floor: float = 1e-3):
    dim = stats.sum.shape[1]
    count = np.zeros(tree.num_leaves)
    s = np.zeros((tree.num_leaves, dim))
    ss = np.zeros((tree.num_leaves, dim))
    for k, key in enumerate(stats.keys):
        leaf = tree.pdf(*key)
        count[leaf] += stats.count[k]
        s[leaf] += stats.sum[k]
        ss[leaf] += stats.sumsq[k]
    gmean = stats.sum.sum(0) / stats.count.sum()
    gvar = np.maximum(stats.sumsq.sum(0) / stats.count.sum() - gmean**2, var_floor)
    am = khg.AmDiagGmm()
    for leaf in range(tree.num_leaves):
        if count[leaf] > 0:
            mean = s[leaf] / count[leaf]
            var = np.maximum(ss[leaf] / count[leaf] - mean**2, var_floor)
        else:  # a root never seen in training: the global Gaussian
            mean, var = gmean, gvar
        gmm = khg.DiagGmm(nmix=1, dim=dim)
        gmm.set_weights(np.ones(1, np.float32))
        gmm.set_means(mean[None].astype(np.float32))
        gmm.set_invvars((1.0 / var)[None].astype(np.float32))
        gmm.compute_gconsts()
        am.add_pdf(gmm)
    return am


def _em_pass(am, feats: Mapping[str, np.ndarray], alignments: Mapping[str, FrameAlignment], cfg: TriConfig, target_gauss: int,
             global_var: Optional[np.ndarray] = None) -> float:
    accs = khg.AccumAmDiagGmm()
    accs.init(model=am, flags=khg.GmmUpdateFlags.kGmmAll)
    tot, frames = 0.0, 0
    for utt, ali in alignments.items():
        x = feats[utt]
        for t, pdf in enumerate(ali.pdf.tolist()):
            tot += accs.accumulate_for_gmm(model=am, data=x[t], gmm_index=pdf, weight=1.0)
        frames += len(ali)
    opts = khg.MleDiagGmmOptions()
    opts.min_gaussian_occupancy = cfg.min_gaussian_occupancy
    khg.mle_am_diag_gmm_update(config=opts, amdiag_gmm_acc=accs, flags=khg.str_to_gmm_flags("mvw"), am_gmm=am)
    occs = np.array([accs.get_acc(i).occupancy.sum() for i in range(accs.num_accs)], dtype=np.float32)
    if target_gauss > am.num_gauss:
        split_by_count(am, occs, target_gauss, cfg.perturb_factor, cfg.power, min_count=20.0, seed=0)
    if global_var is not None:
        floor_variances(am, global_var, cfg.var_floor_frac)
    return tot / max(frames, 1)


def train_tri(
    feats: Mapping[str, np.ndarray],
    mono_alignments: Mapping[str, FrameAlignment],
    phone_states: Mapping[int, int],
    cfg: TriConfig = TriConfig(),
    history: Optional[list] = None,
) -> tuple[TriphoneModel, dict[str, FrameAlignment]]:
    """Train the triphone system; returns (model, final senone alignments of the training set)."""
    alis = {u: a for u, a in mono_alignments.items() if u in feats}
    stats = accumulate_tree_stats(feats, alis)
    tree = build_tree(stats, dict(phone_states), TreeConfig(cfg.num_leaves, cfg.min_leaf_count, cfg.min_gain))
    log.info("tri: tree with %d leaves from %d seen contexts (%d questions)", tree.num_leaves, len(stats.keys), len(tree.questions))
    model = TriphoneModel(tree, _init_am(tree, stats), estimate_self_loops(alis, cfg.self_loop_floor), dict(phone_states))
    global_var = None
    if cfg.var_floor_frac > 0:
        global_var = np.maximum(stats.sumsq.sum(0) / stats.count.sum() - (stats.sum.sum(0) / stats.count.sum()) ** 2, 1e-6)
        floor_variances(model.am, global_var, cfg.var_floor_frac)
    alis = {u: model.convert(a) for u, a in alis.items()}
    num_gauss = model.am.num_gauss
    inc = max((cfg.total_gauss - num_gauss) // max(cfg.max_iter_inc, 1), 0)
    for it in tqdm(range(1, cfg.num_iters + 1), desc="tri EM", leave=False):
        if it in cfg.realign_iters:
            alis = {u: model.align(feats[u], a) for u, a in alis.items()}
            model.self_loop = estimate_self_loops(alis, cfg.self_loop_floor)
        if it <= cfg.max_iter_inc:
            num_gauss = min(num_gauss + inc, cfg.total_gauss)
        like = _em_pass(model.am, feats, alis, cfg, num_gauss, global_var)
        if history is not None:
            history.append({"pass": it, "avg_loglike": round(like, 4), "num_gauss": model.am.num_gauss})
        log.info("tri pass %d: avg loglike/frame %.3f, %d Gaussians", it, like, model.am.num_gauss)
    return model, alis


def align_tri(model: TriphoneModel, feats: Mapping[str, np.ndarray], mono_alignments: Mapping[str, FrameAlignment]) -> dict[str, FrameAlignment]:
    """Senone alignments of any set: its monophone alignment's phone sequence, re-aligned."""
    return {u: model.align(feats[u], model.convert(a)) for u, a in tqdm(mono_alignments.items(), desc="tri align", leave=False) if u in feats}
