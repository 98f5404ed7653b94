"""HLG decoding of the CTC head through the WFST toolchain (avsr.decode: kaldi-hmm-gmm
FasterDecoder over DecodableCtc), and n-best rescoring of HLG paths with the attention decoder.

The graph directory comes from ``steps/make_graph.py --kind hlg`` over a BPE lang prepared with
``--phone-table <exp>/tokens.txt``, so graph column k is the model's token k (0 = blank).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from avsr.e2e.tokens import Tokenizer
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
FLOOR = -1e4  # finite score for graph columns the model has no output for (the decoder rejects -inf)


class HlgDecoder:
    """Wraps a loaded HLG graph; ``decode`` → word string for one utterance."""

    def __init__(self, graph, column_of_token: np.ndarray, opts) -> None:
        self.graph, self.column_of_token, self.opts = graph, column_of_token, opts

    @classmethod
    def load(cls, graph_dir: Optional[PathLike], tokenizer: Tokenizer, opts) -> "HlgDecoder":
        from avsr.decode.decoder import DecodingGraph
        from avsr.lang.symbols import read_symbol_table

        if not graph_dir:
            raise AvsrInputError(None, "hlg_* methods need --hlg-dir (a graph dir from steps/make_graph.py --kind hlg)")
        graph_dir = Path(graph_dir)
        graph = DecodingGraph.load(graph_dir)
        if graph.kind != "hlg":
            raise AvsrInputError(graph_dir, f"graph kind is {graph.kind!r}, need 'hlg'")
        tokens = read_symbol_table(graph_dir / "tokens.txt")
        pieces = tokenizer.pieces()
        # graph column j reads the model output of the piece named tokens[j]
        column_source = np.full(graph.num_columns, -1, dtype=np.int64)
        for sym, j in tokens:
            if sym == "<blk>":
                column_source[j] = tokenizer.blank_id
            elif sym in pieces:
                column_source[j] = pieces.index(sym)
        mismatched = [sym for sym, j in tokens if sym in pieces and pieces.index(sym) != j]
        if mismatched:  # not fatal (columns are remapped) but says the lang was built for other ids
            import logging

            logging.getLogger(__name__).warning("%s: %d graph tokens have other ids than the model's (remapped)",
                                                graph_dir, len(mismatched))
        return cls(graph, column_source, opts)

    def scores(self, log_probs: torch.Tensor) -> np.ndarray:
        """Model log-probs [T, V] → graph score matrix [T, num_columns]."""
        lp = log_probs.detach().float().cpu().numpy()
        out = np.full((lp.shape[0], len(self.column_of_token)), FLOOR, dtype=np.float32)
        have = self.column_of_token >= 0
        out[:, have] = lp[:, self.column_of_token[have]]
        return out

    def decode(self, model, enc: torch.Tensor, length: int, rescore_with_attention: bool = False,
               tokenizer: Optional[Tokenizer] = None) -> str:
        """The word string (see :meth:`decode_result` for whether the search failed)."""
        return self.decode_result(model, enc, length, rescore_with_attention, tokenizer).text

    def decode_result(self, model, enc: torch.Tensor, length: int, rescore_with_attention: bool = False,
                      tokenizer: Optional[Tokenizer] = None) -> "HlgResult":
        """Words for one utterance; ``partial`` is True when the search reached no final state even
        with a 4x wider beam: the text is then the best partial path (Kaldi's --allow-partial),
        and the caller counts it as a search failure."""
        from avsr.decode.decoder import DecodeOptions, decode_best, decode_nbest

        matrix = self.scores(model.ctc_log_probs(enc[:length]))
        opts = DecodeOptions(beam=self.opts.hlg_beam, acoustic_scale=self.opts.acoustic_scale)
        if not rescore_with_attention:
            hyp = decode_best(self.graph, matrix, opts)
            if hyp is None or hyp.partial:  # no final state within the beam (a weak model): retry wider once
                opts.beam *= 4
                hyp = decode_best(self.graph, matrix, opts)
            return HlgResult(" ".join(hyp.words) if hyp else "", hyp is None or hyp.partial)
        opts.nbest = self.opts.nbest
        nbest = [h for h in decode_nbest(self.graph, matrix, opts) if not h.partial]
        if not nbest:  # no complete path through the kept columns: fall back to the 1-best
            return self.decode_result(model, enc, length)
        if tokenizer is None:
            raise ValueError("attention rescoring needs the tokenizer")
        from avsr.e2e.search_attention import attention_scores

        texts = [" ".join(h.words) for h in nbest]
        att = attention_scores(model, enc, length, [tokenizer.encode(t) for t in texts])
        w = self.opts.nbest_attention_weight
        totals = [(1 - w) * (-h.cost) + w * a for h, a in zip(nbest, att)]
        return HlgResult(texts[int(np.argmax(totals))], False)


@dataclass(frozen=True)
class HlgResult:
    text: str
    partial: bool  # the search reached no final state: ``text`` is the best partial path
