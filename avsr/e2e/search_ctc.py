"""CTC search: greedy (best path), prefix beam search, and the CTC prefix scorer used by joint
CTC/attention decoding. All work on one utterance's log-probabilities [T, V] (natural log)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

NEG_INF = -float("inf")


def ctc_greedy(log_probs: Tensor, blank: int = 0) -> list[int]:
    """Best path: argmax per frame, merge repeats, drop blanks."""
    best = log_probs.argmax(dim=-1).tolist()
    out, prev = [], None
    for k in best:
        if k != prev and k != blank:
            out.append(k)
        prev = k
    return out


def _logadd(*xs: float) -> float:
    m = max(xs)
    if m == NEG_INF:
        return NEG_INF
    return m + math.log(sum(math.exp(x - m) for x in xs))


def ctc_prefix_beam_search(log_probs: Tensor, beam: int = 8, blank: int = 0, token_prune: int = 0) -> list[tuple[list[int], float]]:
    """CTC prefix beam search (Hannun et al. 2014): n-best of (token ids, log P(prefix)) summed
    over all alignments, best first. ``token_prune`` > 0 considers only the top-k tokens per frame.
    """
    lp = log_probs.detach().double().cpu()
    # prefix -> (log P ending in blank, log P ending in non-blank)
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEG_INF)}
    vocab = lp.shape[1]
    for t in range(lp.shape[0]):
        row = lp[t]
        cand = (row.topk(min(token_prune, vocab)).indices.tolist() if token_prune > 0 else range(vocab))
        row_l = row.tolist()
        nxt: dict[tuple[int, ...], list[float]] = {}

        def add(prefix: tuple[int, ...], pb: float, pnb: float) -> None:
            cur = nxt.setdefault(prefix, [NEG_INF, NEG_INF])
            cur[0], cur[1] = _logadd(cur[0], pb), _logadd(cur[1], pnb)

        for prefix, (pb, pnb) in beams.items():
            total = _logadd(pb, pnb)
            for k in cand:
                p = row_l[k]
                if k == blank:
                    add(prefix, total + p, NEG_INF)
                    continue
                last = prefix[-1] if prefix else None
                ext = prefix + (k,)
                if k == last:
                    add(ext, NEG_INF, pb + p)  # a repeat needs a blank in between
                    add(prefix, NEG_INF, pnb + p)  # or it continues the same token
                else:
                    add(ext, NEG_INF, total + p)
        alive = [kv for kv in nxt.items() if _logadd(*kv[1]) > NEG_INF]  # e.g. a repeat with no blank yet
        ranked = sorted(alive, key=lambda kv: -_logadd(*kv[1]))[:beam]
        beams = {k: (v[0], v[1]) for k, v in ranked}
    return [(list(p), _logadd(*s)) for p, s in sorted(beams.items(), key=lambda kv: -_logadd(*kv[1]))]


@dataclass
class CtcPrefixState:
    """Forward variables of one prefix g over all frames: r_b[t], r_n[t] = log P(x_1..t, g)
    with the path at frame t in blank / in g's last token; ``score`` = log prefix prob of g."""

    r_b: Tensor
    r_n: Tensor
    score: float
    last: int


class CtcPrefixScorer:
    """CTC prefix probabilities for joint CTC/attention decoding (Watanabe et al. 2017, Alg. 2).

    ``initial()`` is the state of the empty prefix; ``extend(state, tokens)`` returns, for each
    candidate token c, log P_ctc(g + c + anything) and the new state; ``final(state)`` gives
    log P_ctc(g) exactly (the score of ending the hypothesis with <eos>).
    """

    def __init__(self, log_probs: Tensor, blank: int = 0) -> None:
        self.lp = log_probs.detach().double().cpu()
        self.blank = blank
        self.T = self.lp.shape[0]

    def initial(self) -> CtcPrefixState:
        r_b = torch.cumsum(self.lp[:, self.blank], dim=0)
        r_n = torch.full((self.T,), NEG_INF, dtype=torch.float64)
        return CtcPrefixState(r_b, r_n, 0.0, -1)

    def final(self, state: CtcPrefixState) -> float:
        if self.T == 0:
            return 0.0 if state.last == -1 else NEG_INF
        return float(torch.logaddexp(state.r_b[-1], state.r_n[-1]))

    def extend(self, state: CtcPrefixState, tokens: list[int]) -> tuple[Tensor, list[CtcPrefixState]]:
        """Scores [K] (log prefix probabilities of g + c) and states for candidates ``tokens``."""
        scores, states = self.extend_many([state], [tokens])
        return scores[0], states[0]

    def extend_many(self, parents: list[CtcPrefixState], tokens: list[list[int]]
                    ) -> tuple[list[Tensor], list[list[CtcPrefixState]]]:
        """:meth:`extend` for several prefixes at once (one pass over time for all candidates)."""
        pairs = [(i, c) for i, toks in enumerate(tokens) for c in toks]
        if self.T == 0 or not pairs:
            return ([torch.full((len(t),), NEG_INF, dtype=torch.float64) for t in tokens],
                    [[] for _ in tokens])
        lp = self.lp.numpy()
        parent = np.array([i for i, _ in pairs])
        idx = np.array([c for _, c in pairs])
        x = lp[:, idx]  # [T, K]
        pr_b = np.stack([p.r_b.numpy() for p in parents], 1)[:, parent]  # [T, K]
        pr_n = np.stack([p.r_n.numpy() for p in parents], 1)[:, parent]
        last = np.array([parents[i].last for i, _ in pairs])
        # phi[t]: g emitted by frame t and c may start at t+1 (a repeat of g's last token needs a blank)
        phi = np.where((idx == last)[None, :], pr_b, np.logaddexp(pr_b, pr_n))
        r_n0 = np.where(last == -1, x[0], NEG_INF)  # only the empty prefix lets c start at frame 0
        blank = lp[:, self.blank][:, None]
        # The recursions over time, r_n[t] = logaddexp(r_n[t-1], phi[t-1]) + x[t] and
        # r_b[t] = logaddexp(r_b[t-1], r_n[t-1]) + blank[t], are linear in probability space, so
        # they unroll into cumulative sums: with C = cumsum(x), r_n[t] = C[t] + log(exp(r_n[0] - C[0])
        # + sum_{s=1..t} exp(phi[s-1] - C[s-1])), and likewise r_b with cumsum(blank); one
        # logaddexp.accumulate per array instead of a Python loop over frames (x floored at -1e4 so
        # that the cumulative sums stay finite: exp(-1e4) is 0 in float64 anyway).
        x = np.maximum(x, -1e4)
        cum_x = np.cumsum(x, axis=0)
        with np.errstate(invalid="ignore"):
            r_n = cum_x + np.logaddexp.accumulate(np.concatenate([(r_n0 - cum_x[0])[None], phi[:-1] - cum_x[:-1]]), axis=0)
            cum_b = np.cumsum(np.maximum(blank, -1e4), axis=0)
            r_b = cum_b + np.logaddexp.accumulate(np.concatenate([np.full((1, len(pairs)), NEG_INF), r_n[:-1] - cum_b[:-1]]),
                                                  axis=0)
            psi = np.logaddexp(r_n0, np.logaddexp.reduce(phi[:-1] + x[1:], axis=0)) if self.T > 1 else r_n0
        scores: list[Tensor] = []
        states: list[list[CtcPrefixState]] = []
        j = 0
        for i, toks in enumerate(tokens):
            n = len(toks)
            scores.append(torch.from_numpy(psi[j : j + n].copy()))
            states.append([CtcPrefixState(torch.from_numpy(r_b[:, j + m].copy()), torch.from_numpy(r_n[:, j + m].copy()),
                                          float(psi[j + m]), toks[m]) for m in range(n)])
            j += n
        return scores, states
