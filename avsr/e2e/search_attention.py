"""Attention-decoder beam search, optionally joint with CTC prefix scores (one-pass joint
CTC/attention decoding, Watanabe et al. 2017; ESPnet's ``BeamSearch`` with a CTC scorer), and
n-best rescoring with the attention decoder."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor

from avsr.e2e.search_ctc import NEG_INF, CtcPrefixScorer, CtcPrefixState
from avsr.models.ctc_attention import CtcAttentionModel


@dataclass
class _Hyp:
    tokens: list[int]  # without <sos>
    att: float  # cumulative attention log-prob
    ctc_state: Optional[CtcPrefixState]
    score: float
    parent: int = 0  # row of the previous step's hypothesis it extends (its decoder cache)


@torch.no_grad()
def attention_beam_search(model: CtcAttentionModel, enc: Tensor, enc_len: int, beam: int = 8,
                          ctc_weight: float = 0.0, ctc_log_probs: Optional[Tensor] = None,
                          max_len: Optional[int] = None, pre_beam: Optional[int] = None,
                          length_bonus: float = 0.0) -> list[tuple[list[int], float]]:
    """Beam search over the attention decoder for one utterance (enc [T, D] or [1, T, D]).

    score(h) = (1 − w)·log P_att(h) + w·log P_ctc-prefix(h) + length_bonus·|h|, with w =
    ``ctc_weight``; w = 0 is plain attention beam search. Candidates per hypothesis are the
    ``pre_beam`` best attention tokens (default 1.5·beam). A hypothesis ends when <eos> is chosen;
    its CTC part is then the full-sequence CTC probability. Returns ended hypotheses, best first.
    """
    enc = enc[:, :enc_len] if enc.dim() == 3 else enc[None, :enc_len]
    device = enc.device
    max_len = max_len or max(1, enc_len)
    pre_beam = pre_beam or max(beam, int(1.5 * beam))
    scorer = None
    if ctc_weight > 0:
        if ctc_log_probs is None:
            ctc_log_probs = model.ctc_log_probs(enc)[0]
        scorer = CtcPrefixScorer(ctc_log_probs[:enc_len], model.blank_id)
    lens = torch.tensor([enc_len], device=device)
    hyps = [_Hyp([], 0.0, scorer.initial() if scorer else None, 0.0)]
    ended: list[_Hyp] = []
    eos, sos, blank = model.eos_id, model.sos_id, model.blank_id
    memory_kv = model.decoder.memory_keys(enc)  # [1, H, T, D/H] per layer; every hypothesis shares them
    cache = None  # the decoder's self-attention keys/values at earlier positions, one row per live hypothesis
    for _ in range(max_len):
        last = torch.tensor([h.tokens[-1] if h.tokens else sos for h in hyps], device=device)
        if cache is not None:
            rows = torch.tensor([h.parent for h in hyps], device=device)
            cache = [(k.index_select(0, rows), v.index_select(0, rows)) for k, v in cache]
        n = len(hyps)
        logits, cache = model.attention_step([(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in memory_kv],
                                             lens.expand(n), last, cache)
        att_lp = logits.log_softmax(dim=-1).double().cpu()
        att_lp[:, blank] = NEG_INF  # blank is CTC's, never an attention output
        cands: list[_Hyp] = []
        tops = [att_lp[i].topk(min(pre_beam, att_lp.shape[1])).indices.tolist() for i in range(len(hyps))]
        cand_tokens = [[c for c in top if c != eos] for top in tops]
        if scorer is not None:  # CTC prefix scores of every candidate of every hypothesis, one pass
            ctc_scores, ctc_states = scorer.extend_many([h.ctc_state for h in hyps], cand_tokens)
        for i, h in enumerate(hyps):
            for j, c in enumerate(cand_tokens[i]):
                att = h.att + float(att_lp[i, c])
                bonus = length_bonus * (len(h.tokens) + 1)
                if scorer is not None:
                    score = (1 - ctc_weight) * att + ctc_weight * float(ctc_scores[i][j])
                    cands.append(_Hyp(h.tokens + [c], att, ctc_states[i][j], score + bonus, i))
                else:
                    cands.append(_Hyp(h.tokens + [c], att, None, att + bonus, i))
            if eos in tops[i]:
                att = h.att + float(att_lp[i, eos])
                score = (1 - ctc_weight) * att + ctc_weight * scorer.final(h.ctc_state) if scorer is not None else att
                ended.append(_Hyp(h.tokens, att, h.ctc_state, score + length_bonus * len(h.tokens)))
        cands.sort(key=lambda h: -h.score)
        hyps = [h for h in cands[:beam] if h.score > NEG_INF]
        # stop when no live hypothesis can beat the best ended one (scores only decrease with length
        # when length_bonus <= 0), or nothing is left
        if not hyps or (ended and length_bonus <= 0 and max(e.score for e in ended) >= hyps[0].score):
            break
    if not ended:  # max_len reached: end the live ones
        ended = hyps
    ended.sort(key=lambda h: -h.score)
    return [(h.tokens, h.score) for h in ended[:beam]]


@torch.no_grad()
def attention_scores(model: CtcAttentionModel, enc: Tensor, enc_len: int, hyps: Sequence[Sequence[int]]) -> list[float]:
    """log P_att(y, <eos> | x) of each token sequence (teacher forcing, one batch): n-best rescoring."""
    if not hyps:
        return []
    enc = enc[:, :enc_len] if enc.dim() == 3 else enc[None, :enc_len]
    device = enc.device
    ys_in, ys_out, mask = model.decoder_inputs([list(h) for h in hyps], device)
    logits = model.attention_logits(enc.expand(len(hyps), -1, -1), torch.tensor([enc_len] * len(hyps), device=device),
                                    ys_in, mask)
    lp = logits.log_softmax(-1)
    picked = lp.gather(-1, ys_out.clamp(min=0)[..., None])[..., 0] * mask
    return picked.sum(dim=1).double().cpu().tolist()
