"""Decoding methods of the E2E models: one :class:`Searcher` per (method, graph), applied to one
utterance's encodings at a time.

Methods — CTC+attention: ``ctc_greedy``, ``ctc_prefix_beam``, ``attention_beam``,
``joint_ctc_attention`` (token outputs), ``hlg_1best``, ``hlg_nbest_attention`` (words through
an HLG graph); transducer: ``greedy``, ``beam``, ``modified_beam`` (tokens), ``fst_beam`` (words
through an LG graph), plus ``ctc_greedy`` / ``ctc_prefix_beam`` / ``hlg_*`` on its auxiliary CTC
head. A method spec may name its graph: ``hlg_1best=exp/graphs/hlg_grid_phone``.

With phone units a token output is a phone string (scored as PER); word outputs always come from
a lexicon graph, so a row's decoding graph / LM is part of its name (``<method>_<graph dir>``).
Scoring and output files: avsr.e2e.decode_jobs.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

import torch
import yaml

from avsr.e2e.search_attention import attention_beam_search
from avsr.e2e.search_ctc import ctc_greedy, ctc_prefix_beam_search
from avsr.e2e.search_transducer import beam_search, greedy_search, modified_beam_search
from avsr.e2e.search_transducer_fst import ProjectedPredictor, fst_beam_search
from avsr.e2e.tokens import Tokenizer, load_tokenizer
from avsr.models.ctc_attention import CtcAttentionModel
from avsr.models.factory import build_model
from avsr.models.transducer import TransducerModel
from avsr.train.checkpoint import averaged_model_state, latest_epoch
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
log = logging.getLogger(__name__)

CTC_ATTENTION_METHODS = ("ctc_greedy", "ctc_prefix_beam", "attention_beam", "joint_ctc_attention",
                         "hlg_1best", "hlg_nbest_attention")
TRANSDUCER_METHODS = ("greedy", "beam", "modified_beam", "fst_beam", "ctc_greedy", "ctc_prefix_beam", "hlg_1best")
GRAPH_METHODS = ("hlg_1best", "hlg_nbest_attention", "fst_beam")  # word outputs through a lexicon graph


@dataclass
class SearchOptions:
    beam: int = 8
    ctc_weight: float = 0.3  # joint CTC/attention
    transducer_beam: int = 4
    max_sym_per_frame: int = 3
    hlg_dir: Optional[str] = None  # default graph of bare hlg_* method names (HLG.fst + words.txt + tokens.txt)
    lg_dir: Optional[str] = None  # default graph of a bare fst_beam (LG.fst over the model's tokens)
    graph_scale: float = 1.0  # fst_beam: weight of the graph (LM) costs
    fst_beam: int = 16  # fst_beam: (state, context) hypotheses kept per frame (8 lost complete sentences in noise)
    hlg_beam: float = 20.0
    nbest: int = 10
    nbest_attention_weight: float = 0.5
    acoustic_scale: float = 1.0


def load_e2e_model(exp_dir: PathLike, epoch: Optional[int] = None, avg: int = 1,
                   device: Union[str, torch.device] = "cpu") -> tuple[torch.nn.Module, dict[str, Any], Tokenizer, int]:
    """Model with the averaged weights of epochs epoch−avg+1..epoch (default: the last epoch)."""
    exp_dir = Path(exp_dir)
    cfg = read_model_config(exp_dir)
    epoch = epoch or latest_epoch(exp_dir)
    if epoch is None:
        raise AvsrInputError(exp_dir, "no epoch-N.pt checkpoint: train first")
    tokenizer = load_tokenizer(exp_dir)
    model = build_model(cfg, tokenizer.vocab_size)
    model.load_state_dict(averaged_model_state(exp_dir, epoch, min(avg, epoch)))
    model.to(device).eval()
    return model, cfg, tokenizer, epoch


def read_model_config(exp_dir: PathLike) -> dict[str, Any]:
    cfg_path = Path(exp_dir) / "config.yaml"
    if not cfg_path.is_file():
        raise AvsrInputError(cfg_path, "no config.yaml: is this a trained E2E experiment directory?")
    return yaml.safe_load(cfg_path.read_text())


def model_video_input(exp_dir: PathLike) -> str:
    """What the model reads as video (``pixels`` | ``dct``): the feature caches must hold that."""
    return (read_model_config(exp_dir).get("frontend") or {}).get("video_input", "pixels")


def methods_for(model: torch.nn.Module) -> tuple[str, ...]:
    return CTC_ATTENTION_METHODS if isinstance(model, CtcAttentionModel) else TRANSDUCER_METHODS


def load_token_graph(lg_dir: Optional[PathLike], tokenizer: Tokenizer):
    """(TokenGraph, words table) of an LG graph dir whose phones are the tokenizer's tokens."""
    from avsr.decode.decoder import DecodingGraph
    from avsr.e2e.search_transducer_fst import TokenGraph
    from avsr.lang.symbols import read_symbol_table

    if not lg_dir:
        raise AvsrInputError(None, "fst_beam needs an LG graph (--lg-dir, or fst_beam=DIR; steps/make_graph.py --kind lg)")
    graph = DecodingGraph.load(lg_dir)
    if graph.kind != "lg":
        raise AvsrInputError(lg_dir, f"graph kind is {graph.kind!r}, need 'lg'")
    tokens = read_symbol_table(Path(lg_dir) / "tokens.txt")
    pieces = tokenizer.pieces()
    wrong = [sym for sym, i in tokens if i > 0 and (i >= len(pieces) or pieces[i] != sym)]
    if wrong:
        raise AvsrInputError(lg_dir, f"graph tokens {wrong[:5]} are not the model's (build the lang with "
                             "--phone-table <exp>/tokens.txt)")
    return TokenGraph(graph.fst), graph.words


@dataclass
class SearchResult:
    text: str  # words (graph methods) or tokens joined by spaces
    partial: bool = False  # graph search reached no final state: best partial path


class Searcher:
    """One decoding method (with its graph, if any) for one loaded model."""

    def __init__(self, model: torch.nn.Module, tokenizer: Tokenizer, spec: str, opts: SearchOptions,
                 device: torch.device) -> None:
        method, _, graph = spec.partition("=")
        self.method, self.model, self.tokenizer, self.opts = method, model, tokenizer, opts
        known = methods_for(model)
        if method not in known:
            raise AvsrInputError(None, f"unknown decoding method {method!r} for {type(model).__name__}; choose from {known}")
        self.graph_dir = graph or (opts.hlg_dir if method.startswith("hlg") else opts.lg_dir if method == "fst_beam" else None)
        self.words_out = method in GRAPH_METHODS
        self.label = f"{method}_{Path(self.graph_dir).name}" if self.words_out and self.graph_dir else method
        self._run = self._build(device)

    def _build(self, device: torch.device) -> Callable[[torch.Tensor, int], SearchResult]:
        m, model, opts, tok = self.method, self.model, self.opts, self.tokenizer
        if m.startswith("hlg"):
            from avsr.e2e.hlg import HlgDecoder

            hlg = HlgDecoder.load(self.graph_dir, tok, opts)

            def run_hlg(enc, n):
                res = hlg.decode_result(model, enc, n, rescore_with_attention=(m == "hlg_nbest_attention"), tokenizer=tok)
                return SearchResult(res.text, res.partial)
            return run_hlg
        if m == "fst_beam":
            graph, words = load_token_graph(self.graph_dir, tok)
            predictor = ProjectedPredictor(model, device)

            def run_fst(enc, n):
                res = fst_beam_search(model, enc, n, graph, opts.fst_beam, opts.graph_scale, predictor=predictor)
                if res.partial:  # no complete sentence survived: retry once with a 4x wider beam (as HLG does)
                    res = fst_beam_search(model, enc, n, graph, 4 * opts.fst_beam, opts.graph_scale, predictor=predictor)
                return SearchResult(" ".join(words.symbol(w) for w in res.words), res.partial)
            return run_fst
        token_search = {
            "ctc_greedy": lambda enc, n: ctc_greedy(model.ctc_log_probs(enc[:n]), model.blank_id),
            "ctc_prefix_beam": lambda enc, n: ctc_prefix_beam_search(model.ctc_log_probs(enc[:n]), opts.beam,
                                                                     model.blank_id, token_prune=opts.beam)[0][0],
            "attention_beam": lambda enc, n: attention_beam_search(model, enc, n, opts.beam)[0][0],
            "joint_ctc_attention": lambda enc, n: attention_beam_search(model, enc, n, opts.beam,
                                                                        ctc_weight=opts.ctc_weight)[0][0],
            "greedy": lambda enc, n: greedy_search(model, enc, n, opts.max_sym_per_frame),
            "beam": lambda enc, n: beam_search(model, enc, n, opts.transducer_beam, opts.max_sym_per_frame)[0][0],
            "modified_beam": lambda enc, n: modified_beam_search(model, enc, n, opts.transducer_beam)[0][0],
        }[m]
        return lambda enc, n: SearchResult(tok.decode(token_search(enc, n)))

    def __call__(self, enc: torch.Tensor, length: int) -> SearchResult:
        return self._run(enc, length)
