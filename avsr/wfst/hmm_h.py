"""H builders for the hybrid HCLG: what turns context-dependent phone windows (the
ilabel_info of C∘LG) into HMM-state (transition-id or senone) sequences.

``HBuilder`` is the interface HCLG construction uses; ``MonophoneHBuilder`` implements it
with kaldi-hmm-gmm (TransitionModel over a monophone ContextDependency, get_h_transducer,
add_self_loops). A triphone system with our own decision tree plugs in by implementing the
same four members over senone ids.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Protocol, Sequence, Union

import kaldifst
import numpy as np

PathLike = Union[str, Path]


class HBuilder(Protocol):
    """What HCLG needs from an acoustic model's HMM side."""

    context_width: int
    central_position: int

    def build_ha(self, ilabel_info: Sequence[Sequence[int]]) -> tuple[kaldifst.StdVectorFst, list[int]]:
        """H without self-loops, mapping its input labels to C's ilabels; returns
        (Ha, input labels used for disambiguation symbols, to be removed after determinization)."""

    def add_self_loops(self, fst: kaldifst.StdVectorFst) -> kaldifst.StdVectorFst:
        """Add the HMM self-loops to the determinized, minimized HCLGa."""

    def column_map(self) -> np.ndarray:
        """int array: entry k is the score-matrix column read for graph input label k+1."""

    def num_columns(self) -> int:
        """Width of the score matrix the decoder expects (e.g. number of pdfs)."""


class MonophoneHBuilder:
    """kaldi-hmm-gmm H for a monophone system; input labels are transition ids,
    score-matrix columns are pdf ids."""

    context_width = 1
    central_position = 0

    def __init__(self, transition_model, ctx_dep, transition_scale: float = 1.0, self_loop_scale: float = 0.1) -> None:
        self.transition_model = transition_model
        self.ctx_dep = ctx_dep
        self.transition_scale = transition_scale
        self.self_loop_scale = self_loop_scale

    @classmethod
    def from_topology(cls, topo_text: str, **kwargs) -> "MonophoneHBuilder":
        """A fresh (untrained) monophone TransitionModel over every phone of ``topo_text``."""
        import kaldi_hmm_gmm as khg

        topo = khg.HmmTopology()
        topo.read(topo_text)
        ctx_dep = khg.monophone_context_dependency(topo.phones, topo.get_phone_to_num_pdf_classes())
        return cls(khg.TransitionModel(ctx_dep, topo), ctx_dep, **kwargs)

    @classmethod
    def from_model_file(cls, path: PathLike, **kwargs) -> "MonophoneHBuilder":
        """A trained monophone model (``final.json`` + ``final.npz``, avsr.hmm.model_io)."""
        from avsr.hmm.model_io import load_gmm_model

        model = load_gmm_model(path)
        if getattr(model, "kind", "") != "mono":
            raise ValueError(f"{path}: a {getattr(model, 'kind', '?')} model has no kaldi-hmm-gmm transition model")
        return cls(model.transition_model, model.ctx_dep, **kwargs)

    def build_ha(self, ilabel_info: Sequence[Sequence[int]]) -> tuple[kaldifst.StdVectorFst, list[int]]:
        import kaldi_hmm_gmm as khg

        config = khg.HTransducerConfig(transition_scale=self.transition_scale)
        ha, disambig_tids = khg.get_h_transducer(
            ilabel_info=ilabel_info, ctx_dep=self.ctx_dep, trans_model=self.transition_model, config=config
        )
        return kaldifst.StdVectorFst(ha), list(disambig_tids)

    def add_self_loops(self, fst: kaldifst.StdVectorFst) -> kaldifst.StdVectorFst:
        import kaldi_hmm_gmm as khg

        out = khg.add_self_loops(
            self_loop_scale=self.self_loop_scale, disambig_syms=[], reorder=True,
            trans_model=self.transition_model, ifst=fst,
        )
        return kaldifst.StdVectorFst(out)

    def column_map(self) -> np.ndarray:
        tm = self.transition_model
        return np.array([tm.transition_id_to_pdf(t) for t in range(1, tm.num_transition_ids + 1)], dtype=np.int64)

    def num_columns(self) -> int:
        return int(self.transition_model.num_pdfs)


def expand_columns(matrix: np.ndarray, column_map: Optional[np.ndarray]) -> np.ndarray:
    """The [T, num_input_labels] float32 matrix a DecodableCtc reads for a graph."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if column_map is None:
        return np.ascontiguousarray(matrix)
    return np.ascontiguousarray(matrix[:, column_map])
