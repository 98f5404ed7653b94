"""Transducer beam search constrained by an FST over the output units (words out), in the spirit
of icefall's ``fast_beam_search`` with an LG graph, on our own kaldifst graphs (k2 is not
installable here).

The graph is an LG from ``steps/make_graph.py --kind lg`` over the lang whose phones are the
model's tokens: input label k = token k-1 (k = 0: epsilon), output labels = words, weights = the
LM / grammar costs (back-off and disambiguation arcs are epsilon inputs). Each hypothesis is a
token sequence *and* a graph state. Per frame (one symbol per frame, as in modified beam search)
a hypothesis either takes blank (same state) or a token the graph allows from its state (after
following epsilon arcs), paying ``graph_scale`` × the graph cost. Hypotheses with the same graph
state and the same predictor context (the last ``context_size`` tokens: all the stateless
predictor sees) have the same future and are merged (log-add of their scores, the words of the
better), which keeps the beam from filling with copies that differ only far back. At the end only
hypotheses in a final state count; if none is, the best one is returned flagged ``partial``
(a search failure, counted by the caller).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import kaldifst
import torch
from torch import Tensor

from avsr.e2e.search_transducer import _context, _logaddexp
from avsr.models.transducer import TransducerModel

EPS = 0


@dataclass
class FstResult:
    words: list[int]  # word ids of the graph's output symbol table
    tokens: list[int]
    score: float
    partial: bool


class TokenGraph:
    """An LG as token-level transitions: state → {token: [(next state, cost, word ids)]}, with
    the epsilon closure folded into each transition (and into the final costs)."""

    def __init__(self, fst: kaldifst.StdVectorFst, max_eps_depth: int = 50) -> None:
        self.start = int(fst.start)
        arcs: dict[int, list[tuple[int, int, int, float]]] = {}
        finals: dict[int, float] = {}
        for s in kaldifst.StateIterator(fst):
            arcs[s] = [(a.ilabel, a.olabel, a.nextstate, float(a.weight.value)) for a in kaldifst.ArcIterator(fst, s)]
            w = float(fst.final(s).value)
            if math.isfinite(w):
                finals[s] = w
        self._arcs, self._finals, self._depth = arcs, finals, max_eps_depth
        self._closure: dict[int, list[tuple[int, float, tuple[int, ...]]]] = {}
        self._moves: dict[int, dict[int, list[tuple[int, float, tuple[int, ...]]]]] = {}
        self._final: dict[int, Optional[tuple[float, tuple[int, ...]]]] = {}

    def closure(self, state: int) -> list[tuple[int, float, tuple[int, ...]]]:
        """States reachable by epsilon-input arcs (best cost per state), with the words emitted."""
        if state not in self._closure:
            best: dict[int, tuple[float, tuple[int, ...]]] = {state: (0.0, ())}
            stack = [(state, 0.0, (), 0)]
            while stack:
                s, cost, words, depth = stack.pop()
                if depth >= self._depth:
                    continue
                for ilabel, olabel, nxt, w in self._arcs.get(s, ()):
                    if ilabel != EPS:
                        continue
                    c, ws = cost + w, words + ((olabel,) if olabel != EPS else ())
                    if nxt not in best or c < best[nxt][0]:
                        best[nxt] = (c, ws)
                        stack.append((nxt, c, ws, depth + 1))
            self._closure[state] = [(s, c, ws) for s, (c, ws) in best.items()]
        return self._closure[state]

    def moves(self, state: int) -> dict[int, list[tuple[int, float, tuple[int, ...]]]]:
        """token → [(next state, cost, words)] from ``state`` (epsilon closure first)."""
        if state not in self._moves:
            out: dict[int, list[tuple[int, float, tuple[int, ...]]]] = {}
            for s, c0, w0 in self.closure(state):
                for ilabel, olabel, nxt, w in self._arcs.get(s, ()):
                    if ilabel == EPS:
                        continue
                    words = w0 + ((olabel,) if olabel != EPS else ())
                    out.setdefault(ilabel - 1, []).append((nxt, c0 + w, words))
            self._moves[state] = out
        return self._moves[state]

    def final(self, state: int) -> Optional[tuple[float, tuple[int, ...]]]:
        """(final cost, words emitted on the way) of the best final state in the closure, or None."""
        if state not in self._final:
            best = None
            for s, c, ws in self.closure(state):
                if s in self._finals and (best is None or c + self._finals[s] < best[0]):
                    best = (c + self._finals[s], ws)
            self._final[state] = best
        return self._final[state]


class ProjectedPredictor:
    """The stateless predictor's projected output for every context. It depends only on the last
    ``context_size`` tokens, so for a small vocabulary every context is computed once, in one
    batch (a table of (V+1)^c rows; −1 = "no token" is row V), and shared by every utterance
    decoded with the same model; larger vocabularies memoise contexts as they come."""

    def __init__(self, model: TransducerModel, device: torch.device, max_table: int = 20000) -> None:
        self.model, self.device = model, device
        self.vocab, self.context = model.vocab_size, model.cfg.context_size
        self.table: Optional[Tensor] = None
        self.cache: dict[tuple[int, ...], Tensor] = {}
        if (self.vocab + 1) ** self.context <= max_table:
            grid = torch.cartesian_prod(*[torch.arange(self.vocab + 1)] * self.context).reshape(-1, self.context)
            ctx = torch.where(grid == self.vocab, -1, grid).to(device)
            self.table = self._project(ctx)

    def _project(self, ctx: Tensor) -> Tensor:
        return self.model.joiner.pred_proj(self.model.predictor(ctx, left_padded=True)[:, -1])

    def __call__(self, contexts: list[tuple[int, ...]]) -> Tensor:
        if self.table is not None:
            base = self.vocab + 1
            index = []
            for c in contexts:
                k = 0
                for tok in c:
                    k = k * base + (tok if tok >= 0 else self.vocab)
                index.append(k)
            return self.table[torch.tensor(index, device=self.device)]
        missing = [c for c in dict.fromkeys(contexts) if c not in self.cache]
        if missing:
            for c, row in zip(missing, self._project(torch.tensor(missing, device=self.device))):
                self.cache[c] = row
        return torch.stack([self.cache[c] for c in contexts])


@torch.no_grad()
def fst_beam_search(model: TransducerModel, enc: Tensor, enc_len: int, graph: TokenGraph, beam: int = 16,
                    graph_scale: float = 1.0, token_prune: int = 8,
                    predictor: Optional[ProjectedPredictor] = None) -> FstResult:
    """One symbol per frame, hypotheses restricted to the graph. ``token_prune``: per frame and
    hypothesis, only the ``token_prune`` best tokens the graph allows are expanded. Pass one
    ``predictor`` for all utterances of a model (it holds the predictor outputs)."""
    enc = enc[0] if enc.dim() == 3 else enc
    device, c, blank = enc.device, model.cfg.context_size, model.blank_id
    enc_proj = model.joiner.enc_proj(enc[:enc_len])
    predictor = predictor or ProjectedPredictor(model, device)
    # key (graph state, predictor context) → (score, words, tokens): hypotheses that agree on both
    # have the same future, so they are merged (k2's fast_beam_search keys on the same pair)
    start = (graph.start, tuple(_context([], c, blank)))
    hyps: dict[tuple[int, tuple[int, ...]], tuple[float, tuple[int, ...], tuple[int, ...]]] = {start: (0.0, (), ())}
    for t in range(enc_len):
        keys = list(hyps)
        pred = predictor([k[1] for k in keys])
        lp = model.joiner(enc_proj[t][None], pred, projected=True).log_softmax(-1).double().cpu().numpy()
        candidates = []
        for h, key in enumerate(keys):
            state, ctx = key
            score, words, tokens = hyps[key]
            candidates.append((score + float(lp[h, blank]), key, words, tokens))
            moves = graph.moves(state)
            if not moves:
                continue
            for k in sorted(moves, key=lambda k: -lp[h, k])[:token_prune]:
                new_ctx = (ctx + (k,))[-c:]
                for nxt, cost, out in moves[k]:
                    candidates.append((score + float(lp[h, k]) - graph_scale * cost, (nxt, new_ctx), words + out,
                                       tokens + (k,)))
        candidates.sort(key=lambda x: -x[0])
        new: dict[tuple[int, tuple[int, ...]], tuple[float, tuple[int, ...], tuple[int, ...]]] = {}
        for score, key, words, tokens in candidates[: 4 * beam]:
            old = new.get(key)
            if old is None:
                new[key] = (score, words, tokens)
            elif score > old[0]:
                new[key] = (_logaddexp(old[0], score), words, tokens)
            else:
                new[key] = (_logaddexp(old[0], score), old[1], old[2])
        hyps = dict(sorted(new.items(), key=lambda kv: -kv[1][0])[:beam])
    best_final, best_any = None, None
    for (state, _ctx), (score, words, tokens) in hyps.items():
        if best_any is None or score > best_any.score:
            best_any = FstResult(list(words), list(tokens), score, True)
        fin = graph.final(state)
        if fin is not None:
            total = score - graph_scale * fin[0]
            if best_final is None or total > best_final.score:
                best_final = FstResult(list(words + fin[1]), list(tokens), total, False)
    return best_final or best_any
