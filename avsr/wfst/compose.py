"""LG, HLG and HCLG construction (the recipe of Kaldi's mkgraph.sh and icefall's
compile_hlg.py, on kaldifst):

  LG    = minimize_encoded(determinize_star_log(L_disambig ∘ G))        (#k still on the input)
  HLG   = H_ctc ∘ (LG determinised on (phone, word) pairs, #k -> <eps>)   (CTC: ilabel = token + 1;
          every word on a token arc, where sherpa-onnx reads it)
  HCLG  = add_self_loops(minimize_encoded(rmsymbols(det_log(Ha ∘ C∘LG))))  (hybrid)

Every graph's input label k reads column column_map[k-1] of the decoder's score matrix.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional, Sequence

import kaldifst
import numpy as np

from avsr.wfst.ctc_topo import ctc_topology
from avsr.wfst.fstutil import compile_arcs, fst_size, map_arcs, relabel_to_epsilon
from avsr.wfst.hmm_h import HBuilder

log = logging.getLogger(__name__)


@dataclass
class BuiltGraph:
    fst: kaldifst.StdVectorFst
    column_map: Optional[np.ndarray]  # None = identity (ilabel k reads column k-1)
    num_columns: int
    sizes: dict = field(default_factory=dict)


def _vector(fst) -> kaldifst.StdVectorFst:
    return fst if isinstance(fst, kaldifst.StdVectorFst) else kaldifst.StdVectorFst(fst)


def compose_lg(L_disambig: kaldifst.StdVectorFst, G: kaldifst.StdVectorFst,
               words_stay_on_phones: bool = False) -> kaldifst.StdVectorFst:
    """min(det(L∘G)) in the log semiring, disambiguation symbols kept (Kaldi's LG.fst).

    Determinising the transducer delays a word's output label until its pronunciation is
    unambiguous (GRID: the letter "a" (eI) against "eight" (eI t)); after the disambiguation
    symbols become <eps> such a word can sit on an epsilon-input arc, and decoders that read words
    only from arcs that consume a token (sherpa-onnx's HLG decoding) drop it.
    ``words_stay_on_phones`` determinises on (phone, word) pairs instead (OpenFst's encode-
    determinise-decode): every word stays on the first phone of its pronunciation, as in L, at the
    price of a little less sharing. The weight of each (phones, words) path is the same either way
    (with the disambiguation symbols a path's word positions follow from its labels)."""
    L = L_disambig.copy()
    kaldifst.arcsort(L, sort_type="olabel")
    LG = _vector(kaldifst.compose(L, G))
    kaldifst.connect(LG)
    if LG.num_states == 0:
        raise ValueError("L∘G is empty: no word sequence of G has a pronunciation path in L")
    if words_stay_on_phones:
        LG, pairs = _encode_label_pairs(LG)
    if kaldifst.determinize_star(LG, use_log=True):
        raise RuntimeError("determinization of L∘G hit its state limit")
    kaldifst.minimize_encoded(LG)
    if words_stay_on_phones:
        LG = map_arcs(LG, lambda i, o, w: (*pairs[i], w))
    kaldifst.arcsort(LG, sort_type="ilabel")
    return LG


def _encode_label_pairs(fst: kaldifst.StdVectorFst) -> tuple[kaldifst.StdVectorFst, list[tuple[int, int]]]:
    """An acceptor whose label k stands for the pair ``pairs[k]`` = (ilabel, olabel); 0 = (0, 0)."""
    code: dict[tuple[int, int], int] = {(0, 0): 0}

    def encode(i: int, o: int, w: float) -> tuple[int, int, float]:
        k = code.setdefault((i, o), len(code))
        return k, k, w

    acceptor = map_arcs(fst, encode)
    return acceptor, sorted(code, key=code.get)


def remove_disambig(fst: kaldifst.StdVectorFst, disambig_ids: Sequence[int], remove_epsilons: bool = False) -> kaldifst.StdVectorFst:
    """Input disambiguation symbols -> <eps> (fstrmsymbols).

    Epsilons are kept by default: full epsilon removal multiplies the arcs of a back-off LM
    (measured on the GRID trigram HLG: 19k arcs with epsilons kept, 62k after rmepsilon),
    and the decoders follow epsilon arcs anyway (Kaldi likewise only runs fstrmepslocal)."""
    out = relabel_to_epsilon(fst, disambig_ids, side="input")
    if remove_epsilons:
        kaldifst.rmepsilon(out)
    kaldifst.connect(out)
    return out


def build_lg_graph(LG: kaldifst.StdVectorFst, disambig_ids: Sequence[int]) -> BuiltGraph:
    """LG as a decoding graph: one frame per phone (no duration model), ilabel = phone id + 1."""
    fst = remove_disambig(LG, disambig_ids)
    fst = map_arcs(fst, lambda i, o, w: (i + 1 if i else 0, o, w))
    kaldifst.arcsort(fst, sort_type="ilabel")
    max_label = max((a.ilabel for s in kaldifst.StateIterator(fst) for a in kaldifst.ArcIterator(fst, s)), default=1)
    return BuiltGraph(fst, None, max_label, {"LG": fst_size(LG), "graph": fst_size(fst)})


def build_hlg(LG: kaldifst.StdVectorFst, disambig_ids: Sequence[int], token_ids: Sequence[int], blank_id: int = 0) -> BuiltGraph:
    """HLG for a CTC model over ``token_ids`` (phone ids; blank column ``blank_id``)."""
    H = ctc_topology(token_ids, blank_id)
    LG_nd = remove_disambig(LG, disambig_ids)
    stranded = sum(1 for s in kaldifst.StateIterator(LG_nd) for a in kaldifst.ArcIterator(LG_nd, s) if a.olabel and not a.ilabel)
    if stranded:  # an LG from compose_lg(..., words_stay_on_phones=True) has none
        log.warning("HLG: %d word labels on epsilon-input arcs: sherpa-onnx's HLG decoding drops those words", stranded)
    kaldifst.arcsort(LG_nd, sort_type="ilabel")
    HLG = _vector(kaldifst.compose(H, LG_nd))
    kaldifst.connect(HLG)
    kaldifst.arcsort(HLG, sort_type="ilabel")
    num_columns = max(max(token_ids), blank_id) + 1
    return BuiltGraph(HLG, None, num_columns, {"H": fst_size(H), "LG": fst_size(LG), "graph": fst_size(HLG)})


def build_hclg(LG: kaldifst.StdVectorFst, disambig_ids: Sequence[int], h_builder: HBuilder) -> BuiltGraph:
    """HCLG as Kaldi's mkgraph.sh: C from compose_context, Ha from the H builder,
    determinize/minimize without self-loops, then add self-loops."""
    CLG, ilabel_info = kaldifst.compose_context(
        disambig_syms=list(disambig_ids),
        context_width=h_builder.context_width,
        central_position=h_builder.central_position,
        ifst=LG,
    )
    CLG = _vector(CLG)
    kaldifst.arcsort(CLG, sort_type="ilabel")
    Ha, disambig_in = h_builder.build_ha(ilabel_info)
    kaldifst.arcsort(Ha, sort_type="olabel")
    HCLGa = _vector(kaldifst.compose(Ha, CLG))
    kaldifst.connect(HCLGa)
    if kaldifst.determinize_star(HCLGa, use_log=True):
        raise RuntimeError("determinization of H∘C∘L∘G hit its state limit")
    HCLGa = relabel_to_epsilon(HCLGa, disambig_in, side="input")
    kaldifst.rmepsilon(HCLGa)
    kaldifst.minimize_encoded(HCLGa)
    HCLG = h_builder.add_self_loops(HCLGa)
    kaldifst.arcsort(HCLG, sort_type="ilabel")
    sizes = {"LG": fst_size(LG), "CLG": fst_size(CLG), "Ha": fst_size(Ha), "HCLGa": fst_size(HCLGa), "graph": fst_size(HCLG)}
    return BuiltGraph(HCLG, h_builder.column_map(), h_builder.num_columns(), sizes)
