"""Transducer search for the stateless-predictor model: greedy search, beam search over the
standard RNN-T lattice (up to N symbols per frame, hypotheses merged by token sequence) and
modified beam search (at most one symbol per frame, a token also advances time; icefall's
``modified_beam_search``, cheaper but a different topology from the one the loss trains)."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from avsr.models.transducer import TransducerModel


def _logaddexp(a: float, b: float) -> float:
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def _context(tokens: list[int], context_size: int, blank: int) -> list[int]:
    """Last ``context_size`` tokens of ``[−1]*(c−1) + [blank] + tokens`` (−1 = no token)."""
    full = [-1] * (context_size - 1) + [blank] + tokens
    return full[-context_size:]


@torch.no_grad()
def greedy_search(model: TransducerModel, enc: Tensor, enc_len: int, max_sym_per_frame: int = 3) -> list[int]:
    """Per frame, emit the argmax token until it is blank (at most ``max_sym_per_frame``)."""
    enc = enc[0] if enc.dim() == 3 else enc
    device, c, blank = enc.device, model.cfg.context_size, model.blank_id
    enc_proj = model.joiner.enc_proj(enc[:enc_len])
    tokens: list[int] = []
    pred = model.joiner.pred_proj(model.predictor(torch.tensor([_context(tokens, c, blank)], device=device),
                                                  left_padded=True)[0, -1])
    for t in range(enc_len):
        for _ in range(max_sym_per_frame):
            k = int(model.joiner(enc_proj[t], pred, projected=True).argmax())
            if k == blank:
                break
            tokens.append(k)
            pred = model.joiner.pred_proj(model.predictor(torch.tensor([_context(tokens, c, blank)], device=device),
                                                          left_padded=True)[0, -1])
    return tokens


@torch.no_grad()
def modified_beam_search(model: TransducerModel, enc: Tensor, enc_len: int, beam: int = 4) -> list[tuple[list[int], float]]:
    """Beam search with one symbol per frame: each frame, every hypothesis either takes blank
    (stays) or one token; the best ``beam`` of all (hyp, token) pairs survive, equal token
    sequences are merged (log-add). Returns hypotheses, best first."""
    enc = enc[0] if enc.dim() == 3 else enc
    device, c, blank = enc.device, model.cfg.context_size, model.blank_id
    enc_proj = model.joiner.enc_proj(enc[:enc_len])
    hyps: dict[tuple[int, ...], float] = {(): 0.0}
    for t in range(enc_len):
        keys = list(hyps)
        ctx = torch.tensor([_context(list(k), c, blank) for k in keys], device=device)
        pred = model.joiner.pred_proj(model.predictor(ctx, left_padded=True)[:, -1])  # [H, J]
        lp = model.joiner(enc_proj[t][None], pred, projected=True).log_softmax(-1).double().cpu()  # [H, V]
        total = lp + torch.tensor([hyps[k] for k in keys], dtype=torch.float64)[:, None]
        flat = total.reshape(-1)
        top = flat.topk(min(beam, flat.numel()))
        new: dict[tuple[int, ...], float] = {}
        vocab = lp.shape[1]
        for score, idx in zip(top.values.tolist(), top.indices.tolist()):
            h, k = divmod(idx, vocab)
            key = keys[h] if k == blank else keys[h] + (k,)
            new[key] = _logaddexp(new[key], score) if key in new else score
        hyps = new
    return [(list(k), s) for k, s in sorted(hyps.items(), key=lambda kv: -kv[1])]


@torch.no_grad()
def beam_search(model: TransducerModel, enc: Tensor, enc_len: int, beam: int = 4,
                max_sym_per_frame: int = 3) -> list[tuple[list[int], float]]:
    """Beam search over the standard RNN-T lattice (the topology the loss trains): at each
    frame a hypothesis emits 0..``max_sym_per_frame`` tokens and then blank, which moves it to
    the next frame. Hypotheses with equal token sequences are merged (log-add); after each
    expansion step and each frame the best ``beam`` are kept. With an unbounded beam the scores
    are exact sums over all such alignments. Returns hypotheses, best first."""
    enc = enc[0] if enc.dim() == 3 else enc
    device, c, blank = enc.device, model.cfg.context_size, model.blank_id
    enc_proj = model.joiner.enc_proj(enc[:enc_len])
    hyps: dict[tuple[int, ...], float] = {(): 0.0}

    def merge(into: dict[tuple[int, ...], float], key: tuple[int, ...], score: float) -> None:
        into[key] = _logaddexp(into[key], score) if key in into else score

    def best(d: dict[tuple[int, ...], float]) -> dict[tuple[int, ...], float]:
        return dict(sorted(d.items(), key=lambda kv: -kv[1])[:beam])

    for t in range(enc_len):
        current, moved = hyps, {}
        for step in range(max_sym_per_frame + 1):
            if not current:
                break
            keys = list(current)
            ctx = torch.tensor([_context(list(k), c, blank) for k in keys], device=device)
            pred = model.joiner.pred_proj(model.predictor(ctx, left_padded=True)[:, -1])
            lp = model.joiner(enc_proj[t][None], pred, projected=True).log_softmax(-1).double().cpu()
            for h, key in enumerate(keys):
                merge(moved, key, current[key] + float(lp[h, blank]))
            if step == max_sym_per_frame:
                break
            scores = lp + torch.tensor([current[k] for k in keys], dtype=torch.float64)[:, None]
            scores[:, blank] = -float("inf")
            flat = scores.reshape(-1)
            top = flat.topk(min(beam, flat.numel() - len(keys)))
            expanded: dict[tuple[int, ...], float] = {}
            vocab = lp.shape[1]
            for score, idx in zip(top.values.tolist(), top.indices.tolist()):
                h, k = divmod(idx, vocab)
                merge(expanded, keys[h] + (k,), score)
            current = best(expanded)
        hyps = best(moved)
    return [(list(k), s) for k, s in sorted(hyps.items(), key=lambda kv: -kv[1])]
