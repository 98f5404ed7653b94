"""Decoding score matrices through a graph (LG / HLG / HCLG) with kaldi-hmm-gmm's
FasterDecoder (1-best) and an exact n-best over a column-pruned frame lattice.

A score matrix is float32 [T, C]: log-posteriors (CTC) or pseudo-log-likelihoods
(hybrid: log p(s|x) - log p(s)). Graph input label k reads column ``column_map[k-1]``
(identity when the map is None), i.e. DecodableCtc's "label i reads column i-1".

Search failures are never silent: when no token reaches a final state, the decoders return
the best *partial* hypothesis (Kaldi's ``--allow-partial``, the default here) with
``Hypothesis.partial`` set, so callers count failures per test condition instead of scoring an
empty hypothesis as all deletions without saying so.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import kaldifst
import numpy as np

from avsr.lang.symbols import SymbolTable, read_symbol_table
from avsr.utils.errors import AvsrInputError
from avsr.wfst.fstutil import compile_arcs, read_fst
from avsr.wfst.hmm_h import expand_columns

PathLike = Union[str, Path]
GRAPH_FILES = {"lg": "LG.fst", "hlg": "HLG.fst", "hclg": "HCLG.fst"}


@dataclass
class DecodeOptions:
    beam: float = 16.0
    max_active: int = 7000
    min_active: int = 20
    acoustic_scale: float = 1.0
    nbest: int = 1
    nbest_columns: int = 4  # n-best only: per frame, keep this many best columns
    lattice_beam: float = 8.0  # decode_lattice only
    allow_partial: bool = True  # no final state reached: return the best partial path (flagged), not None


@dataclass
class Hypothesis:
    words: list[str]
    cost: float  # graph cost + acoustic_scale * acoustic cost (lower is better)
    graph_cost: float
    acoustic_cost: float  # unscaled: -sum of the matrix scores on the path
    partial: bool = False  # True: the search reached no final state; this is the best partial path


@dataclass
class DecodingGraph:
    kind: str
    fst: kaldifst.StdVectorFst
    words: SymbolTable
    column_map: Optional[np.ndarray]
    num_columns: int
    build: dict

    @classmethod
    def load(cls, graph_dir: PathLike) -> "DecodingGraph":
        graph_dir = Path(graph_dir)
        build_path = graph_dir / "build.json"
        if not build_path.is_file():
            raise AvsrInputError(graph_dir, "not a graph directory (no build.json): run steps/make_graph.sh")
        build = json.loads(build_path.read_text())
        kind = build["kind"]
        fst = read_fst(graph_dir / GRAPH_FILES[kind])
        columns = graph_dir / "columns.int"
        column_map = np.loadtxt(columns, dtype=np.int64, ndmin=1) if columns.is_file() else None
        return cls(kind, fst, read_symbol_table(graph_dir / "words.txt"), column_map, int(build["num_columns"]), build)


def _check_matrix(graph: DecodingGraph, matrix: np.ndarray, utt: str) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != graph.num_columns:
        raise AvsrInputError(utt, f"score matrix has shape {matrix.shape}, the {graph.kind} graph needs [T, {graph.num_columns}]")
    if not np.all(np.isfinite(matrix)):
        raise AvsrInputError(utt, "score matrix has NaN or infinite values")
    return matrix


def decode_best(graph: DecodingGraph, matrix: np.ndarray, options: Optional[DecodeOptions] = None, utt: str = "") -> Optional[Hypothesis]:
    """1-best word sequence with FasterDecoder. When no path reached a final state: the best
    partial path with ``partial=True`` (``options.allow_partial``, the default), else None."""
    import kaldi_hmm_gmm as khg

    opts = options or DecodeOptions()
    matrix = _check_matrix(graph, matrix, utt)
    scores = expand_columns(matrix * opts.acoustic_scale, graph.column_map)
    decoder_opts = khg.FasterDecoderOptions(beam=opts.beam, max_active=opts.max_active, min_active=opts.min_active)
    decoder = khg.FasterDecoder(graph.fst, decoder_opts)
    decoder.decode(khg.DecodableCtc(scores))
    reached = bool(decoder.reached_final())
    if not reached and not opts.allow_partial:
        return None
    ok, lattice = decoder.get_best_path(use_final_probs=reached)
    if ok:
        ok, _ilabels, olabels, weight = kaldifst.get_linear_symbol_sequence(lattice)
    if not ok:  # no token survived at all (cannot happen with min_active > 0): an empty partial result
        return Hypothesis([], float("inf"), float("inf"), float("inf"), partial=True) if opts.allow_partial else None
    graph_cost, scaled_ac = float(weight.value1), float(weight.value2)
    acoustic = scaled_ac / opts.acoustic_scale if opts.acoustic_scale else 0.0
    return Hypothesis([graph.words.symbol(o) for o in olabels], graph_cost + scaled_ac, graph_cost, acoustic, partial=not reached)


def decode_lattice(
    graph: DecodingGraph, matrix: np.ndarray, transition_model, options: Optional[DecodeOptions] = None, utt: str = ""
) -> tuple[Optional[Hypothesis], list[int]]:
    """1-best words and the frame alignment (graph input labels: transition ids for HCLG)
    with LatticeFasterDecoder (determinized lattice, as Kaldi's decoders do). Needs the
    hybrid model's TransitionModel (kaldi-hmm-gmm uses it for phone-level lattice pruning).
    No final state reached: the best partial path flagged ``partial`` (``options.allow_partial``),
    else (None, [])."""
    import kaldi_hmm_gmm as khg

    opts = options or DecodeOptions()
    matrix = _check_matrix(graph, matrix, utt)
    scores = expand_columns(matrix * opts.acoustic_scale, graph.column_map)
    config = khg.LatticeFasterDecoderConfig()
    config.beam, config.max_active, config.min_active, config.lattice_beam = opts.beam, opts.max_active, opts.min_active, opts.lattice_beam
    decoder = khg.LatticeFasterDecoderStdVectorFst(graph.fst, config)
    ok, alignment, word_ids, loglike = khg.decode_utterance_lattice_faster(
        decoder, khg.DecodableCtc(scores), transition_model, utt or "utt", False
    )
    partial = False
    if not ok and opts.allow_partial:
        # the binding does not say whether a final state was reached: a strict pass failed, so
        # this (allow_partial) pass is the partial one
        decoder = khg.LatticeFasterDecoderStdVectorFst(graph.fst, config)
        ok, alignment, word_ids, loglike = khg.decode_utterance_lattice_faster(
            decoder, khg.DecodableCtc(scores), transition_model, utt or "utt", True
        )
        partial = True
    if not ok:
        return None, []
    words = [graph.words.symbol(w) for w in word_ids]
    return Hypothesis(words, -float(loglike), float("nan"), float("nan"), partial=partial), list(alignment)


def frame_lattice(matrix: np.ndarray, column_map: Optional[np.ndarray], keep: int) -> kaldifst.StdVectorFst:
    """A linear acceptor over frames whose arcs are the graph input labels of each frame's
    ``keep`` best columns, with cost = -score (the search space of the n-best)."""
    num_frames, num_cols = matrix.shape
    labels_of_column: dict[int, list[int]] = {}
    if column_map is None:
        labels_of_column = {c: [c + 1] for c in range(num_cols)}
    else:
        for label_minus_1, col in enumerate(column_map):
            labels_of_column.setdefault(int(col), []).append(label_minus_1 + 1)
    arcs = []
    for t in range(num_frames):
        for col in np.argsort(-matrix[t], kind="stable")[:keep]:
            for label in labels_of_column.get(int(col), []):
                arcs.append((t, t + 1, label, label, float(-matrix[t, col])))
    return compile_arcs(arcs, {num_frames: 0.0}, 0, num_frames + 1)


def decode_nbest(graph: DecodingGraph, matrix: np.ndarray, options: Optional[DecodeOptions] = None, utt: str = "") -> list[Hypothesis]:
    """Up to ``options.nbest`` distinct word sequences, best first (exact within the kept
    columns: compose the frame lattice with the graph, keep words, determinize, n-shortest)."""
    from avsr.wfst.fstutil import fst_to_text, project

    opts = options or DecodeOptions()
    matrix = _check_matrix(graph, matrix, utt) * opts.acoustic_scale
    if opts.nbest <= 1:
        best = decode_best(graph, matrix / max(opts.acoustic_scale, 1e-30), opts, utt)
        return [best] if best else []  # a partial 1-best stays flagged (Hypothesis.partial)
    frames = frame_lattice(matrix, graph.column_map, opts.nbest_columns)
    kaldifst.arcsort(frames, sort_type="olabel")
    composed = kaldifst.compose(frames, graph.fst)
    composed = composed if isinstance(composed, kaldifst.StdVectorFst) else kaldifst.StdVectorFst(composed)
    words_only = project(composed, side="output")
    kaldifst.rmepsilon(words_only)
    if words_only.num_states == 0:
        return []
    words_only = kaldifst.determinize(words_only)  # tropical: best path per word sequence
    paths = kaldifst.shortest_path(words_only, n=opts.nbest)
    text = fst_to_text(paths)
    out: list[Hypothesis] = []
    for arc in (a for a in text.arcs if a[0] == text.start):
        cost, words, state = arc[4], [arc[2]] if arc[2] else [], arc[1]
        while state not in text.finals or any(a[0] == state for a in text.arcs):
            nxt = next(a for a in text.arcs if a[0] == state)
            cost += nxt[4]
            if nxt[2]:
                words.append(nxt[2])
            state = nxt[1]
        cost += text.finals[state]
        out.append(Hypothesis([graph.words.symbol(w) for w in words], cost, float("nan"), float("nan")))
    out.sort(key=lambda h: h.cost)
    return out
