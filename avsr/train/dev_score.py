"""Per-epoch dev error rates for the learning curves (``log/epochs.csv`` columns ``dev_ter`` and
``dev_wer``): a loss alone does not say when a model has left the CTC plateau.

- ``dev_ter``: token error rate of greedy search (CTC greedy for CTC+attention, transducer
  greedy) against the reference tokens — phones for phone units, pieces for BPE;
- ``dev_wer``: word error rate through a lexicon graph, when one is given: the CTC head through
  an HLG (both families have a CTC head; the transducer's is its auxiliary one), or the
  transducer through an LG (fst_beam).

A few seconds per epoch on the default dev subset (60 utterances).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import torch

from avsr.e2e.search_ctc import ctc_greedy
from avsr.e2e.search_transducer import greedy_search
from avsr.models.transducer import TransducerModel
from avsr.score.wer import compute_error_stats
from avsr.train.data import FeatureCache, collate, eval_batches

PathLike = Union[str, Path]


class DevScorer:
    def __init__(self, cache: FeatureCache, tokenizer, hlg_dir: Optional[PathLike] = None,
                 lg_dir: Optional[PathLike] = None) -> None:
        self.cache, self.tokenizer = cache, tokenizer
        self.hlg_dir, self.lg_dir = hlg_dir, lg_dir
        self._hlg = self._lg = None
        self.ref_tokens = {u.id: [str(t) for t in tokenizer.encode(u.text, u.phones)] for u in cache.utts.values()}
        self.ref_words = {u.id: u.text.split() for u in cache.utts.values()}

    def _graphs(self, model):
        from avsr.e2e.decode import SearchOptions, load_token_graph
        from avsr.e2e.hlg import HlgDecoder

        if self.hlg_dir and self._hlg is None:
            self._hlg = HlgDecoder.load(self.hlg_dir, self.tokenizer, SearchOptions())
        if self.lg_dir and self._lg is None and isinstance(model, TransducerModel):
            self._lg = load_token_graph(self.lg_dir, self.tokenizer)
        return self._hlg, self._lg

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        from avsr.e2e.search_transducer_fst import fst_beam_search

        from avsr.e2e.search_transducer_fst import ProjectedPredictor

        model.eval()
        hlg, lg = self._graphs(model)
        predictor = ProjectedPredictor(model, device) if lg is not None else None  # this epoch's weights
        tokens, words = {}, {}
        for ids in eval_batches(self.cache, 60.0):
            batch = collate([self.cache.utts[i] for i in ids]).to(device)
            enc, lengths = model.encode(batch)
            for b, utt in enumerate(ids):
                n = int(lengths[b])
                if isinstance(model, TransducerModel):
                    hyp = greedy_search(model, enc[b], n)
                else:
                    hyp = ctc_greedy(model.ctc_log_probs(enc[b, :n]), model.blank_id)
                tokens[utt] = [str(t) for t in hyp]
                if lg is not None:
                    graph, table = lg
                    result = fst_beam_search(model, enc[b], n, graph, predictor=predictor)
                    words[utt] = [table.symbol(w) for w in result.words]
                elif hlg is not None:
                    words[utt] = hlg.decode(model, enc[b], n).split()
        out = {"dev_ter": round(compute_error_stats(self.ref_tokens, tokens).rate, 3)}
        if words:
            out["dev_wer"] = round(compute_error_stats(self.ref_words, words).rate, 3)
        return out
