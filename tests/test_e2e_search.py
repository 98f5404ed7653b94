"""Search algorithms against brute-force enumeration on tiny random models / matrices."""
from __future__ import annotations

import itertools
import math
from collections import defaultdict

import pytest
import torch

from avsr.e2e.search_attention import attention_beam_search, attention_scores
from avsr.e2e.search_ctc import CtcPrefixScorer, ctc_greedy, ctc_prefix_beam_search
from avsr.e2e.search_transducer import greedy_search, modified_beam_search
from avsr.models.conformer import ConformerConfig
from avsr.models.ctc_attention import AttentionDecoderConfig, CtcAttentionConfig, CtcAttentionModel
from avsr.models.frontend import FrontendConfig
from avsr.models.transducer import TransducerConfig, TransducerModel

BLANK = 0


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def collapse(path) -> tuple[int, ...]:
    out, prev = [], None
    for k in path:
        if k != prev and k != BLANK:
            out.append(k)
        prev = k
    return tuple(out)


def ctc_sequence_probs(lp: torch.Tensor) -> dict[tuple[int, ...], float]:
    """log P(y) for every label sequence, summing exp over all V^T frame paths."""
    T, V = lp.shape
    probs: dict[tuple[int, ...], float] = defaultdict(float)
    for path in itertools.product(range(V), repeat=T):
        probs[collapse(path)] += math.exp(sum(float(lp[t, k]) for t, k in enumerate(path)))
    return {y: math.log(p) for y, p in probs.items() if p > 0}


def random_log_probs(T: int, V: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (2.0 * torch.randn(T, V, generator=g, dtype=torch.float64)).log_softmax(-1)


def test_ctc_greedy_merges_repeats_and_drops_blanks() -> None:
    lp = torch.full((7, 4), -10.0)
    for t, k in enumerate([1, 1, 0, 1, 2, 2, 0]):
        lp[t, k] = 0.0
    assert ctc_greedy(lp) == [1, 1, 2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prefix_beam_search_exact_with_wide_beam(seed: int) -> None:
    lp = random_log_probs(5, 3, seed)
    truth = ctc_sequence_probs(lp)
    nbest = ctc_prefix_beam_search(lp, beam=1000)
    assert len(nbest) == len(truth)
    for y, score in nbest:
        assert score == pytest.approx(truth[tuple(y)], abs=1e-9)
    best = max(truth, key=truth.get)
    assert tuple(nbest[0][0]) == best


@pytest.mark.parametrize("seed", [3, 4])
def test_ctc_prefix_scorer_matches_enumeration(seed: int) -> None:
    lp = random_log_probs(5, 4, seed)
    truth = ctc_sequence_probs(lp)

    def prefix_prob(g):
        return math.log(sum(math.exp(s) for y, s in truth.items() if y[: len(g)] == g))

    scorer = CtcPrefixScorer(lp, BLANK)
    assert scorer.final(scorer.initial()) == pytest.approx(truth[()], abs=1e-9)
    frontier = [((), scorer.initial())]
    for _ in range(3):
        nxt = []
        for g, state in frontier:
            scores, states = scorer.extend(state, [1, 2, 3])
            for c, s, st in zip([1, 2, 3], scores.tolist(), states):
                h = g + (c,)
                assert s == pytest.approx(prefix_prob(h), abs=1e-9), h
                assert scorer.final(st) == pytest.approx(truth.get(h, -math.inf), abs=1e-9), h
                nxt.append((h, st))
        frontier = nxt[:6]


def tiny_frontend(fusion: str = "audio") -> FrontendConfig:
    return FrontendConfig(fusion=fusion, audio_channels=4, audio_dim=8, video_channels=4, video_dim=8, output_dim=8,
                          bilinear_rank=4, modality_dropout=0.0, dropout=0.0)


def tiny_encoder() -> ConformerConfig:
    return ConformerConfig(d_model=8, num_heads=2, ffn_dim=16, num_layers=1, kernel_size=3, dropout=0.0)


@pytest.fixture
def transducer() -> TransducerModel:
    torch.manual_seed(0)
    m = TransducerModel(4, tiny_frontend(), tiny_encoder(), TransducerConfig(predictor_dim=8, context_size=2, joiner_dim=8))
    with torch.no_grad():  # sharper distributions so hypotheses differ clearly
        m.joiner.out.weight.mul_(4.0)
    return m.eval().double()


@torch.no_grad()
def one_symbol_per_frame_probs(model: TransducerModel, enc: torch.Tensor) -> dict[tuple[int, ...], float]:
    """log P(y) summed over all alignments with at most one symbol per frame (the modified-beam topology)."""
    V = model.vocab_size
    probs: dict[tuple[int, ...], float] = defaultdict(float)
    for choice in itertools.product(range(V), repeat=enc.shape[0]):
        y: list[int] = []
        logp = 0.0
        for t, k in enumerate(choice):
            ctx = ([-1] + [BLANK] + y)[-2:]
            pred = model.predictor(torch.tensor([ctx]), left_padded=True)[0, -1]
            lp = model.joiner(enc[t], pred).log_softmax(-1)
            logp += float(lp[k])
            if k != BLANK:
                y.append(k)
        probs[tuple(y)] += math.exp(logp)
    return {y: math.log(p) for y, p in probs.items()}


def test_modified_beam_search_exact_with_wide_beam(transducer: TransducerModel) -> None:
    enc = torch.randn(4, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    truth = one_symbol_per_frame_probs(transducer, enc)
    nbest = modified_beam_search(transducer, enc, 4, beam=10_000)
    assert len(nbest) == len(truth)
    for y, s in nbest:
        assert s == pytest.approx(truth[tuple(y)], abs=1e-9)
    assert tuple(nbest[0][0]) == max(truth, key=truth.get)


def test_greedy_equals_beam_one_with_one_symbol_per_frame(transducer: TransducerModel) -> None:
    for seed in range(4):
        enc = torch.randn(6, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2
        assert greedy_search(transducer, enc, 6, max_sym_per_frame=1) == modified_beam_search(transducer, enc, 6, beam=1)[0][0]


@pytest.fixture
def ctc_att() -> CtcAttentionModel:
    torch.manual_seed(0)
    m = CtcAttentionModel(4, tiny_frontend(), tiny_encoder(), AttentionDecoderConfig(1, 2, 16, 0.0), CtcAttentionConfig())
    with torch.no_grad():
        m.decoder.out.weight.mul_(3.0)
    return m.eval().double()


def all_sequences(max_len: int, tokens=(2, 3)):
    for n in range(max_len + 1):
        yield from itertools.product(tokens, repeat=n)


@torch.no_grad()
def test_attention_scores_match_stepwise_decoding(ctc_att: CtcAttentionModel) -> None:
    enc = torch.randn(1, 5, 8, dtype=torch.float64)
    seqs = [[2, 3, 3], [3], []]
    got = attention_scores(ctc_att, enc, 5, seqs)
    for y, score in zip(seqs, got):
        total = 0.0
        for u, target in enumerate(y + [ctc_att.eos_id]):
            logits = ctc_att.attention_logits(enc, torch.tensor([5]), torch.tensor([[ctc_att.sos_id] + y[:u]]))
            total += float(logits[0, -1].log_softmax(-1)[target])
        assert score == pytest.approx(total, abs=1e-9)


@torch.no_grad()
def test_incremental_decoder_step_equals_the_full_prefix_forward() -> None:
    """The beam search's cached decoder step (2 layers, the memory's keys computed once, rows
    reordered between steps as beams are, padded frames masked) gives the logits of running the
    decoder on the whole prefix."""
    torch.manual_seed(1)
    m = CtcAttentionModel(6, tiny_frontend(), tiny_encoder(), AttentionDecoderConfig(2, 2, 16, 0.0),
                          CtcAttentionConfig()).eval().double()
    enc = torch.randn(1, 7, 8, dtype=torch.float64).expand(3, -1, -1)  # one utterance, 3 hypotheses
    lens = torch.tensor([6, 6, 6])  # the last frame is padding
    prefixes = [[m.sos_id], [m.sos_id], [m.sos_id]]
    memory_kv = m.decoder.memory_keys(enc)
    cache = None
    for step_tokens, rows in (([2, 3, 4], None), ([5, 2, 3], [2, 0, 0]), ([4, 4, 2], [1, 2, 0])):
        if rows is not None:  # beams keep some hypotheses twice and drop others
            cache = [(k.index_select(0, torch.tensor(rows)), v.index_select(0, torch.tensor(rows))) for k, v in cache]
            prefixes = [list(prefixes[r]) for r in rows]
        last = torch.tensor([p[-1] for p in prefixes])
        logits, cache = m.attention_step(memory_kv, lens, last, cache)
        full = m.attention_logits(enc, lens, torch.tensor(prefixes))[:, -1]
        assert torch.allclose(logits, full, atol=1e-10)
        for p, t in zip(prefixes, step_tokens):
            p.append(t)


@pytest.mark.parametrize("ctc_weight", [0.0, 0.4])
@torch.no_grad()
def test_attention_and_joint_beam_search_find_the_brute_force_best(ctc_att: CtcAttentionModel, ctc_weight: float) -> None:
    """With a beam covering every hypothesis (2 real tokens, max length 3), beam search returns
    argmax over all sequences of (1-w)·log P_att(y, eos) + w·log P_ctc(y)."""
    enc = torch.randn(1, 4, 8, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    # CTC never emits sos/eos (id 1): mask it so both sides range over sequences of tokens {2, 3}
    seqs = [list(s) for s in all_sequences(3)]
    att = attention_scores(ctc_att, enc, 4, seqs)
    lp = ctc_att.ctc_log_probs(enc)[0]
    lp[:, 1] = -1e30
    lp = lp.log_softmax(-1)
    ctc_truth = ctc_sequence_probs(lp.clone().clamp(min=-700))
    scores = {tuple(s): (1 - ctc_weight) * a + ctc_weight * ctc_truth.get(tuple(s), -math.inf) for s, a in zip(seqs, att)}
    best = max(scores, key=scores.get)
    hyps = attention_beam_search(ctc_att, enc, 4, beam=64, ctc_weight=ctc_weight, ctc_log_probs=lp, max_len=3,
                                 pre_beam=3)
    top_tokens, top_score = hyps[0]
    assert tuple(top_tokens) == best
    assert top_score == pytest.approx(scores[best], abs=1e-6)


@torch.no_grad()
def k_symbols_per_frame_probs(model: TransducerModel, enc: torch.Tensor, k: int) -> dict[tuple[int, ...], float]:
    """log P(y) over all standard RNN-T alignments with at most k tokens per frame (then blank)."""
    tokens = [v for v in range(model.vocab_size) if v != BLANK]
    per_frame = [seq for n in range(k + 1) for seq in itertools.product(tokens, repeat=n)]
    probs: dict[tuple[int, ...], float] = defaultdict(float)
    for choice in itertools.product(per_frame, repeat=enc.shape[0]):
        y: list[int] = []
        logp = 0.0
        for t, emitted in enumerate(choice):
            for sym in list(emitted) + [BLANK]:
                ctx = ([-1] + [BLANK] + y)[-2:]
                pred = model.predictor(torch.tensor([ctx]), left_padded=True)[0, -1]
                logp += float(model.joiner(enc[t], pred).log_softmax(-1)[sym])
                if sym != BLANK:
                    y.append(sym)
        probs[tuple(y)] += math.exp(logp)
    return {y: math.log(p) for y, p in probs.items()}


def test_beam_search_exact_over_k_symbol_lattice(transducer: TransducerModel) -> None:
    from avsr.e2e.search_transducer import beam_search

    enc = torch.randn(2, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 2
    truth = k_symbols_per_frame_probs(transducer, enc, 2)  # 13^2 alignments
    nbest = beam_search(transducer, enc, 2, beam=100_000, max_sym_per_frame=2)
    assert len(nbest) == len(truth)
    for y, s in nbest:
        assert s == pytest.approx(truth[tuple(y)], abs=1e-9)
    assert tuple(nbest[0][0]) == max(truth, key=truth.get)
