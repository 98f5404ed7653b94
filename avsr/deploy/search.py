"""One utterance through a trained E2E model (torch): search by method name, then token frames.

The searches are the package's own (:mod:`avsr.e2e.search_ctc`, ``search_attention``,
``search_transducer``, ``search_transducer_fst``); graph methods decode the CTC head through an
HLG graph with kaldi-hmm-gmm's FasterDecoder exactly as :class:`avsr.e2e.hlg.HlgDecoder` does
(beam, one retry with a 4x wider beam), keeping the best path's per-frame labels, which are the
word alignment. Every result carries its tokens' frames (:mod:`avsr.deploy.ctm`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from avsr.deploy import ctm
from avsr.e2e.decode import SearchOptions
from avsr.models.ctc_attention import CtcAttentionModel
from avsr.models.transducer import TransducerModel
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
CTC_METHODS = ("ctc_greedy", "ctc_prefix_beam", "attention_beam", "joint_ctc_attention", "hlg_1best")
TRANSDUCER_METHODS = ("greedy", "beam", "modified_beam", "fst_beam", "ctc_greedy", "ctc_prefix_beam", "hlg_1best")
GRAPH_METHODS = ("hlg_1best", "fst_beam")


@dataclass
class Decoded:
    tokens: list[int]
    spans: list[tuple[int, int]]  # encoder frames of each token
    words: Optional[list[str]]  # graph methods: the graph's words; else None (the tokenizer decodes)
    partial: bool = False  # graph search reached no final state: best partial path


def methods_of(model: torch.nn.Module) -> tuple[str, ...]:
    return TRANSDUCER_METHODS if isinstance(model, TransducerModel) else CTC_METHODS


@dataclass
class BestPath:
    words: list[str]
    word_frames: list[int]  # frame at which each word's output label sits on the path
    labels: list[int]  # graph input label of every frame
    partial: bool


def best_path(graph, matrix: np.ndarray, beam: float, acoustic_scale: float = 1.0,
              widenings: tuple[float, ...] = (1.0, 4.0), max_active: int = 7000) -> BestPath:
    """The 1-best path of a score matrix through an HLG/HCLG graph (FasterDecoder over
    DecodableCtc, as :func:`avsr.decode.decoder.decode_best`), with its per-frame labels and
    where each word sits; the beam is widened when no final state is reached, and if none is
    ever reached the best partial path comes back flagged."""
    import kaldi_hmm_gmm as khg

    from avsr.wfst.hmm_h import expand_columns

    scores = expand_columns(np.asarray(matrix, np.float32) * acoustic_scale, graph.column_map)
    for widen in widenings:
        decoder = khg.FasterDecoder(graph.fst, khg.FasterDecoderOptions(beam=beam * widen, max_active=max_active, min_active=20))
        decoder.decode(khg.DecodableCtc(scores))
        reached = bool(decoder.reached_final())
        if reached:
            break
    ok, lattice = decoder.get_best_path(use_final_probs=reached)
    if not ok:
        return BestPath([], [], [], True)
    # a linear lattice: its text form lists the arcs (src dst ilabel olabel weight); kaldifst's
    # ArcIterator does not take Lattice objects
    arcs = {}
    for line in str(lattice).splitlines():
        f = line.split()
        if len(f) >= 4:
            arcs[int(f[0])] = (int(f[1]), int(f[2]), int(f[3]))
    words, word_frames, labels = [], [], []
    state = int(lattice.start)
    while state in arcs:
        nxt, ilabel, olabel = arcs.pop(state)
        if olabel:
            words.append(graph.words.symbol(olabel))
            word_frames.append(len(labels))
        if ilabel:
            labels.append(ilabel)
        state = nxt
    return BestPath(words, word_frames, labels, not reached)


class TorchSearch:
    """``search(enc, n)`` for one method of a loaded model; ``graph_dir`` for graph methods."""

    def __init__(self, model: torch.nn.Module, tokenizer, method: str, opts: SearchOptions,
                 graph_dir: Optional[PathLike] = None) -> None:
        if method not in methods_of(model):
            raise AvsrInputError(None, f"method {method!r} is not one of {type(model).__name__}'s: {methods_of(model)}")
        if method.startswith("ctc") or method == "hlg_1best":
            if isinstance(model, TransducerModel) and not model.cfg.ctc_weight > 0:
                raise AvsrInputError(None, f"{method} needs a CTC head: this transducer was trained without the CTC loss")
        self.model, self.tokenizer, self.method, self.opts = model, tokenizer, method, opts
        self.hlg = self.token_graph = self.lg_words = None
        if method == "hlg_1best":
            from avsr.e2e.hlg import HlgDecoder

            if graph_dir is None:
                raise AvsrInputError(None, "hlg_1best needs a graph (--graph: a dir from steps/make_graph.py --kind hlg)")
            self.hlg = HlgDecoder.load(graph_dir, tokenizer, opts)
        if method == "fst_beam":
            from avsr.e2e.decode import load_token_graph

            self.token_graph, self.lg_words = load_token_graph(graph_dir, tokenizer)

    @torch.no_grad()
    def __call__(self, enc: torch.Tensor, n: int) -> Decoded:
        from avsr.e2e import search_ctc, search_transducer

        m, model, opts = self.method, self.model, self.opts
        blank = model.blank_id
        if m == "hlg_1best":
            lp = model.ctc_log_probs(enc[:n])
            path = best_path(self.hlg.graph, self.hlg.scores(lp), opts.hlg_beam, opts.acoustic_scale)
            tokens, spans = self._path_tokens(path.labels)
            return Decoded(tokens, spans, path.words, path.partial)
        if m == "fst_beam":
            from avsr.e2e.search_transducer_fst import fst_beam_search

            res = fst_beam_search(model, enc, n, self.token_graph, opts.transducer_beam, opts.graph_scale)
            return Decoded(res.tokens, self.align(enc, n, res.tokens), [self.lg_words.symbol(w) for w in res.words],
                           res.partial)
        if m == "ctc_greedy":
            tokens = search_ctc.ctc_greedy(model.ctc_log_probs(enc[:n]), blank)
        elif m == "ctc_prefix_beam":
            tokens = search_ctc.ctc_prefix_beam_search(model.ctc_log_probs(enc[:n]), opts.beam, blank, token_prune=opts.beam)[0][0]
        elif m in ("attention_beam", "joint_ctc_attention"):
            from avsr.e2e.search_attention import attention_beam_search

            weight = opts.ctc_weight if m == "joint_ctc_attention" else 0.0
            tokens = attention_beam_search(model, enc, n, opts.beam, ctc_weight=weight)[0][0]
        elif m == "greedy":
            tokens = search_transducer.greedy_search(model, enc, n, opts.max_sym_per_frame)
        elif m == "beam":
            tokens = search_transducer.beam_search(model, enc, n, opts.transducer_beam, opts.max_sym_per_frame)[0][0]
        else:  # modified_beam
            tokens = search_transducer.modified_beam_search(model, enc, n, opts.transducer_beam)[0][0]
        tokens = [int(t) for t in tokens if int(t) > 1]  # attention hyps may carry <sos/eos>
        return Decoded(tokens, self.align(enc, n, tokens), None)

    def _path_tokens(self, ilabels: list[int]) -> tuple[list[int], list[tuple[int, int]]]:
        """Graph labels (label = graph column + 1) → model tokens and spans."""
        cols, spans = ctm.path_alignment(ilabels, blank_label=1)  # graph column 0 = blank
        return [int(self.hlg.column_of_token[c]) for c in cols], spans

    @torch.no_grad()
    def align(self, enc: torch.Tensor, n: int, tokens: list[int]) -> list[tuple[int, int]]:
        """Frames of ``tokens``: CTC alignment for CTC methods, the RNN-T lattice for transducer ones."""
        model = self.model
        if not tokens:
            return []
        if isinstance(model, CtcAttentionModel) or self.method.startswith("ctc"):
            return ctm.ctc_align(model.ctc_log_probs(enc[:n]).cpu().numpy(), tokens, model.blank_id)
        c, blank = model.cfg.context_size, model.blank_id
        # predictor context after u tokens: the last c of [-1]*(c-1) + [blank] + tokens[:u]
        ctx = torch.tensor([([-1] * (c - 1) + [blank] + list(tokens[:u]))[-c:] for u in range(len(tokens) + 1)],
                           device=enc.device)
        pred = model.joiner.pred_proj(model.predictor(ctx, left_padded=True)[:, -1])  # [U+1, J]
        enc_proj = model.joiner.enc_proj(enc[:n])  # [T, J]
        lp = model.joiner(enc_proj[:, None], pred[None], projected=True).log_softmax(-1).cpu().numpy()  # [T, U+1, V]
        return ctm.transducer_align(lambda u: lp[:, u], n, tokens, blank)
