"""Monophone GMM-HMM training and forced alignment with kaldi-hmm-gmm, following Kaldi's
steps/train_mono.sh: one Gaussian per state at the global mean/variance, equal alignment,
then EM passes (accumulate, MLE update, split Gaussians towards a target total) with
Viterbi re-alignment at chosen passes.

Inputs are plain dicts (utt -> [T, D] float32 features, utt -> word list) so the same code
trains on lhotse cuts (steps/train_gmm.py) and on small synthetic arrays (tests).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import kaldi_hmm_gmm as khg  # before kaldilm/kaldifst-heavy imports (import-order hang, deps.md)
import kaldifst
import numpy as np
from tqdm import tqdm

from avsr.hmm.alignment import FrameAlignment
from avsr.hmm.lang_info import LangInfo
from avsr.hmm.split import split_by_count

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


@dataclass
class MonoConfig:
    num_iters: int = 25
    total_gauss: int = 1000
    max_iter_inc: int = 20  # Gaussians are added until this pass
    realign_iters: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 23)
    beam: float = 10.0
    retry_beam: float = 40.0
    acoustic_scale: float = 0.1
    transition_scale: float = 1.0
    self_loop_scale: float = 0.1
    power: float = 0.25
    perturb_factor: float = 0.01
    min_gaussian_occupancy: float = 3.0
    equal_align_seed: int = 3
    # "equal": Kaldi's align-equal-compiled over the training graph (optional silences chosen
    # at random). "energy": silence outside the span where c0 (first feature, mean-normalised)
    # is above the midpoint of its 10th/90th percentiles, the transcript's phones spread
    # equally inside it. On corpora with long leading/trailing pauses (ours: 0.3-0.5 s)
    # "equal" lets the first/last phones absorb the pauses, a local optimum EM never leaves.
    init_alignment: str = "equal"
    var_floor_frac: float = 0.0  # > 0: floor every variance at this fraction of the global one


@dataclass
class GmmHmm:
    """A kaldi-hmm-gmm monophone model, saved as final.json + final.npz (avsr.hmm.model_io;
    make_graph reads ``transition_model`` and ``ctx_dep`` from it to build the monophone HCLG)."""

    transition_model: object
    ctx_dep: object
    am: object
    feature_config: dict = field(default_factory=dict)
    topo_text: str = ""  # the lang's topology: rebuilds transition_model and ctx_dep on load
    kind = "mono"

    def save(self, path: PathLike) -> None:
        from avsr.hmm.model_io import save_gmm_model

        save_gmm_model(self, path)

    @classmethod
    def load(cls, path: PathLike) -> "GmmHmm":
        from avsr.hmm.model_io import load_gmm_model

        model = load_gmm_model(path)
        if not isinstance(model, cls):
            raise ValueError(f"{path} is not a monophone model")
        return model

    @property
    def num_pdfs(self) -> int:
        return int(self.transition_model.num_pdfs)

    def tid_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pdf, phone, hmm state) of every transition id (index = tid; entry 0 unused)."""
        tm = self.transition_model
        n = tm.num_transition_ids
        pdf = np.asarray(tm.transition_id_to_pdf_array(), dtype=np.int32)[: n + 1]
        phone = np.zeros(n + 1, np.int32)
        tstate = np.asarray(tm.id2state, dtype=np.int32)[: n + 1]
        for t in range(1, n + 1):
            phone[t] = tm.transition_id_to_phone(t)
        first = {}
        for t in range(1, n + 1):
            first[phone[t]] = min(first.get(phone[t], 1 << 30), tstate[t])
        state = np.array([0] + [tstate[t] - first[phone[t]] for t in range(1, n + 1)], dtype=np.int32)
        return pdf, phone, state

    def pdf_phones(self) -> np.ndarray:
        """The (central) phone of each pdf: the group of each class for shared-weight models."""
        pdf, phone, _ = self.tid_tables()
        out = np.zeros(self.num_pdfs, np.int32)
        out[pdf[1:]] = phone[1:]
        return out

    def log_likelihoods(self, feats: np.ndarray) -> np.ndarray:
        """[T, num_pdfs] GMM log-likelihoods (the score matrix for HCLG decoding)."""
        return gmm_log_likelihoods(self.am, feats)


def gmm_log_likelihoods(am, feats: np.ndarray) -> np.ndarray:
    """log p(x_t | pdf) for every frame and pdf of an AmDiagGmm, vectorised in numpy."""
    feats = np.asarray(feats, dtype=np.float64)
    out = np.empty((len(feats), am.num_pdfs), np.float32)
    sq = feats**2
    for j in range(am.num_pdfs):
        gmm = am.get_pdf(j)
        inv = np.asarray(gmm.inv_vars, np.float64)  # [M, D]
        mi = np.asarray(gmm.means_invvars, np.float64)  # [M, D]
        comp = np.asarray(gmm.gconsts, np.float64)[None, :] + feats @ mi.T - 0.5 * sq @ inv.T
        m = comp.max(axis=1, keepdims=True)
        out[:, j] = (m[:, 0] + np.log(np.exp(comp - m).sum(axis=1)))
    return out


def floor_variances(am, global_var: np.ndarray, frac: float) -> None:
    """var >= frac * global variance for every Gaussian of every pdf (HTK-style relative
    floor). Kaldi's absolute floor (1e-3) is not enough for TTS speech, whose phones vary
    so little within a voice that Gaussians collapse onto the training voices; tested on the
    default corpus's dev set, the triphone WER drops from 28 % to 1 % with frac = 0.5."""
    if frac <= 0:
        return
    cap = (1.0 / (frac * np.asarray(global_var, np.float64) + 1e-12)).astype(np.float32)
    for j in range(am.num_pdfs):
        gmm = am.get_pdf(j)
        means = np.asarray(gmm.means, np.float32).copy()
        gmm.set_invvars(np.minimum(np.asarray(gmm.inv_vars, np.float32), cap[None, :]))
        gmm.set_means(means)
        gmm.compute_gconsts()


def _training_graphs(model: GmmHmm, lang: LangInfo, texts: Mapping[str, Sequence[str]]) -> dict:
    opts = khg.TrainingGraphCompilerOptions()
    compiler = khg.TrainingGraphCompiler(
        trans_model=model.transition_model, ctx_dep=model.ctx_dep, lex_fst=lang.lexicon_fst(),
        disambig_syms=lang.disambig_ids, opts=opts,
    )
    return {utt: compiler.compile_graph_from_text(lang.word_ids(words, utt)) for utt, words in texts.items()}


def _equal_alignment(graph, num_frames: int, seed: int) -> Optional[list[int]]:
    ok, aligned = kaldifst.equal_align(ifst=graph, length=num_frames, rand_seed=seed, num_retries=10)
    if not ok:
        return None
    ok, tids, _words, _weight = kaldifst.get_linear_symbol_sequence(aligned)
    return list(tids) if ok else None


def align_with_graph(model: GmmHmm, graph, feats: np.ndarray, utt: str, cfg: MonoConfig) -> Optional[list[int]]:
    """Viterbi forced alignment (transition ids) through a training graph; None if it fails."""
    fst = graph.copy()
    khg.add_transition_probs(
        trans_model=model.transition_model, transition_scale=cfg.transition_scale, self_loop_scale=cfg.self_loop_scale, fst=fst
    )
    decodable = khg.DecodableAmDiagGmmScaled(am=model.am, tm=model.transition_model, feats=feats, scale=cfg.acoustic_scale)
    config = khg.AlignConfig()
    config.beam, config.retry_beam, config.careful = cfg.beam, cfg.retry_beam, False
    result = khg.align_utterance_wrapper(config, utt, cfg.acoustic_scale, fst, decodable, 0, 0, 0, 0.0, 0)
    alignment = result[5]
    return list(alignment) if alignment else None


def _speech_span(c0: np.ndarray) -> tuple[int, int]:
    lo, hi = np.percentile(c0, [10, 90])
    active = np.nonzero(c0 > 0.5 * (lo + hi))[0]
    return (int(active[0]), int(active[-1]) + 1) if len(active) else (0, len(c0))


def _energy_alignment(model: GmmHmm, lang: LangInfo, pron: dict, words: Sequence[str], feats: np.ndarray) -> Optional[list[int]]:
    """Transition ids of: silence before the speech span, the words' first pronunciations
    (no inter-word silence) spread equally over it, silence after it."""
    tm = model.transition_model
    sil = lang.phones["SIL"] if "SIL" in lang.phones else None
    _, phone_of, state_of = model.tid_tables()
    tids = {}
    for t in range(1, tm.num_transition_ids + 1):
        tids[(int(phone_of[t]), int(state_of[t]), bool(tm.is_self_loop(t)))] = t
    nstates = phone_num_states_cached(lang)
    start, end = _speech_span(feats[:, 0])
    phones = [lang.phones[p] for w in words for p in pron[w]]
    segments = []  # (phone, first frame, end frame)
    if sil is not None and start >= nstates[sil]:
        segments.append((sil, 0, start))
    else:
        start = 0
    if sil is not None and len(feats) - end >= nstates[sil]:
        tail = (sil, end, len(feats))
    else:
        tail, end = None, len(feats)
    total_states = sum(nstates[p] for p in phones)
    if end - start < total_states:
        return None
    bounds = np.linspace(start, end, len(phones) + 1).round().astype(int)
    segments += [(p, int(bounds[i]), int(bounds[i + 1])) for i, p in enumerate(phones)]
    if tail:
        segments.append(tail)
    out = []
    for phone, s0, s1 in segments:
        n = nstates[phone]
        if s1 - s0 < n:
            return None
        cuts = np.linspace(s0, s1, n + 1).round().astype(int)
        for k in range(n):
            d = int(cuts[k + 1] - cuts[k])
            out += [tids[(phone, k, True)]] * (d - 1) + [tids[(phone, k, False)]]
    return out


_NSTATES: dict = {}


def phone_num_states_cached(lang: LangInfo) -> dict:
    from avsr.hmm.lang_info import phone_num_states

    key = lang.topo_text
    if key not in _NSTATES:
        _NSTATES[key] = phone_num_states(key)
    return _NSTATES[key]


def _first_prons(lang: LangInfo) -> dict:
    prons: dict = {}
    for line in (lang.lang_dir / "lexicon.txt").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] not in prons:
            prons[fields[0]] = fields[1:]
    return prons


def _accumulate(model: GmmHmm, feats: Mapping[str, np.ndarray], ali: Mapping[str, list[int]]):
    accs = khg.AccumAmDiagGmm()
    accs.init(model=model.am, flags=khg.GmmUpdateFlags.kGmmAll)
    tm = model.transition_model
    trans_stats = np.zeros(tm.num_transition_ids + 1, np.float64)
    pdf_of = np.asarray(tm.transition_id_to_pdf_array(), dtype=np.int64)
    tot_like, frames = 0.0, 0
    for utt, tids in ali.items():
        x = feats[utt]
        tids = np.asarray(tids, np.int64)
        # TransitionModel::Accumulate adds prob to stats[tid]: a bincount is the same thing.
        trans_stats += np.bincount(tids, minlength=len(trans_stats))
        for t, pdf in enumerate(pdf_of[tids]):
            tot_like += accs.accumulate_for_gmm(model=model.am, data=x[t], gmm_index=int(pdf), weight=1.0)
        frames += len(tids)
    return accs, trans_stats, tot_like / max(frames, 1)


def _update(model: GmmHmm, accs, trans_stats: np.ndarray, cfg: MonoConfig, target_gauss: int, global_var: Optional[np.ndarray] = None) -> None:
    model.transition_model.mle_update(trans_stats, khg.MleTransitionUpdateConfig())
    opts = khg.MleDiagGmmOptions()
    opts.min_gaussian_occupancy = cfg.min_gaussian_occupancy
    khg.mle_am_diag_gmm_update(config=opts, amdiag_gmm_acc=accs, flags=khg.str_to_gmm_flags("mvwt"), am_gmm=model.am)
    occs = np.array([accs.get_acc(i).occupancy.sum() for i in range(accs.num_accs)], dtype=np.float32)
    if target_gauss > model.am.num_gauss:
        split_by_count(model.am, occs, target_gauss, cfg.perturb_factor, cfg.power, min_count=20.0, seed=0)
    if global_var is not None:
        floor_variances(model.am, global_var, cfg.var_floor_frac)


def init_mono(lang: LangInfo, feats: Mapping[str, np.ndarray]) -> GmmHmm:
    """One Gaussian per pdf at the global mean and variance (gmm-init-mono)."""
    topo = khg.HmmTopology()
    topo.read(lang.topo_text)
    ctx_dep = khg.monophone_context_dependency(topo.phones, topo.get_phone_to_num_pdf_classes())
    allx = np.concatenate([np.asarray(x, np.float64) for x in feats.values()])
    mean, var = allx.mean(axis=0), np.maximum(allx.var(axis=0), 1e-3)
    gmm = khg.DiagGmm(nmix=1, dim=allx.shape[1])
    gmm.set_weights(np.ones(1, np.float32))
    gmm.set_means(mean[None].astype(np.float32))
    gmm.set_invvars((1.0 / var)[None].astype(np.float32))
    gmm.compute_gconsts()
    am = khg.AmDiagGmm()
    for _ in range(ctx_dep.num_pdfs):
        am.add_pdf(gmm)
    return GmmHmm(khg.TransitionModel(ctx_dep, topo), ctx_dep, am, topo_text=lang.topo_text)


def train_mono(
    lang: LangInfo,
    feats: Mapping[str, np.ndarray],
    texts: Mapping[str, Sequence[str]],
    cfg: MonoConfig = MonoConfig(),
    history: Optional[list] = None,
) -> tuple[GmmHmm, dict[str, list[int]]]:
    """Train a monophone system; returns (model, final training alignment as transition ids).

    ``history`` (if given) receives one dict per pass: pass, avg log-likelihood, #Gaussians,
    #aligned utterances."""
    utts = [u for u in texts if u in feats]
    model = init_mono(lang, {u: feats[u] for u in utts})
    graphs = _training_graphs(model, lang, {u: texts[u] for u in utts})
    ali = {}
    prons = _first_prons(lang) if cfg.init_alignment == "energy" else {}
    for u in utts:
        a = _energy_alignment(model, lang, prons, texts[u], feats[u]) if prons else None
        if a is None:  # "equal", or the energy span was too short for the transcript
            a = _equal_alignment(graphs[u], len(feats[u]), cfg.equal_align_seed)
        if a is not None:
            ali[u] = a
    if not ali:
        raise RuntimeError("equal alignment failed for every utterance (utterances shorter than their HMM chains?)")
    log.info("mono: initial (%s) alignment of %d/%d utterances", cfg.init_alignment, len(ali), len(utts))
    num_gauss = model.am.num_gauss
    inc = max((cfg.total_gauss - num_gauss) // max(cfg.max_iter_inc, 1), 0)
    global_var = np.concatenate([np.asarray(feats[u], np.float64) for u in utts]).var(axis=0) if cfg.var_floor_frac > 0 else None
    accs, trans_stats, like = _accumulate(model, feats, ali)
    _update(model, accs, trans_stats, cfg, num_gauss, global_var)
    for it in tqdm(range(1, cfg.num_iters + 1), desc="mono EM", leave=False):
        if it in cfg.realign_iters:
            new = {}
            for u in utts:
                a = align_with_graph(model, graphs[u], feats[u], u, cfg)
                if a is not None:
                    new[u] = a
            ali = new
        accs, trans_stats, like = _accumulate(model, feats, ali)
        if it <= cfg.max_iter_inc:
            num_gauss = min(num_gauss + inc, cfg.total_gauss)
        _update(model, accs, trans_stats, cfg, num_gauss, global_var)
        if history is not None:
            history.append({"pass": it, "avg_loglike": round(like, 4), "num_gauss": model.am.num_gauss, "aligned": len(ali)})
        log.info("mono pass %d: avg loglike/frame %.3f, %d Gaussians, %d aligned", it, like, model.am.num_gauss, len(ali))
    return model, ali


def align_mono(
    model: GmmHmm, lang: LangInfo, feats: Mapping[str, np.ndarray], texts: Mapping[str, Sequence[str]], cfg: MonoConfig = MonoConfig()
) -> tuple[dict[str, FrameAlignment], list[str]]:
    """Forced-align utterances; returns ({utt: FrameAlignment}, failed utterance ids)."""
    utts = [u for u in texts if u in feats]
    graphs = _training_graphs(model, lang, {u: texts[u] for u in utts})
    pdf, phone, state = model.tid_tables()
    out, failed = {}, []
    for u in tqdm(utts, desc="align", leave=False, disable=len(utts) < 50):
        tids = align_with_graph(model, graphs[u], feats[u], u, cfg)
        if tids is None:  # a weak model on a hard utterance: one more try with a wide beam
            wide = MonoConfig(**{**asdict(cfg), "beam": cfg.retry_beam, "retry_beam": cfg.retry_beam * 25})
            tids = align_with_graph(model, graphs[u], feats[u], u, wide)
        if tids is None:
            failed.append(u)
            continue
        t = np.asarray(tids, np.int64)
        out[u] = FrameAlignment(pdf[t], phone[t], state[t])
    return out, failed


def mono_config_from_dict(d: Optional[dict]) -> MonoConfig:
    d = dict(d or {})
    if "realign_iters" in d:
        d["realign_iters"] = tuple(d["realign_iters"])
    return MonoConfig(**d)


def config_dict(cfg) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()}
