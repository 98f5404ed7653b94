"""Phone units for the E2E models and the graph-constrained transducer search.

- PhoneTokenizer: the utterance's own phone alignment first, else the lexicon's first
  pronunciation; silences are not units; an unknown word is a one-line error.
- fst_beam_search against brute force: with a wide beam its best sentence is the argmax of
  (log-sum over one-symbol-per-frame alignments) - graph cost over the graph's language, and a
  graph whose shortest sentence cannot fit into the frames gives a flagged partial result.
- predictor dropout: active only while training, no parameters, and none at all at 0.
"""
from __future__ import annotations

import itertools
import math
from collections import defaultdict
from pathlib import Path

import kaldifst
import pytest
import torch

from avsr.e2e.search_transducer_fst import TokenGraph, fst_beam_search
from avsr.e2e.tokens import PhoneTokenizer, load_tokenizer, write_phone_tokens
from avsr.lang.lexicon import Lexicon, LexiconEntry
from avsr.lang.prepare import LangOptions, prepare_lang
from avsr.models.conformer import ConformerConfig
from avsr.models.frontend import FrontendConfig
from avsr.models.transducer import TransducerConfig, TransducerModel
from avsr.utils.errors import AvsrInputError
from avsr.wfst.fstutil import compile_arcs

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture()
def lang(tmp_path: Path) -> Path:
    lexicon = Lexicon([LexiconEntry("bin", ("b", "I", "n")), LexiconEntry("at", ("a", "t")),
                       LexiconEntry("at", ("a", "t#")), LexiconEntry("blue", ("b", "l", "u:"))])
    return prepare_lang(lexicon, tmp_path / "lang", LangOptions(sil_phone="SIL"))


def test_phone_tokens_from_lang_and_encoding(lang: Path, tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    tok = write_phone_tokens(lang, exp)
    pieces = tok.pieces()
    assert pieces[:2] == ["<blk>", "<sos/eos>"] and "SIL" not in pieces and "SPN" not in pieces
    assert sorted(pieces[2:]) == ["I", "a", "b", "l", "n", "t", "t#", "u:"]
    assert isinstance(load_tokenizer(exp), PhoneTokenizer)
    # the spoken variant (alignment) wins over the lexicon's first pronunciation; silence dropped
    spoken = tok.encode("bin at", ["SIL", "b", "I", "n", "a", "t#", "SIL"])
    assert tok.decode(spoken) == "b I n a t#"
    assert tok.decode(tok.encode("bin at")) == "b I n a t"
    with pytest.raises(AvsrInputError, match="'red' has no pronunciation"):
        tok.encode("bin red")


def tiny_transducer(vocab: int) -> TransducerModel:
    torch.manual_seed(0)
    fe = FrontendConfig(fusion="audio", audio_channels=4, audio_dim=8, output_dim=8, dropout=0.0)
    enc = ConformerConfig(d_model=8, num_heads=2, ffn_dim=16, num_layers=1, kernel_size=3, dropout=0.0)
    model = TransducerModel(vocab, fe, enc, TransducerConfig(predictor_dim=8, context_size=2, joiner_dim=8))
    with torch.no_grad():
        model.joiner.out.weight.mul_(4.0)
    return model.eval().double()


def test_predictor_dropout_only_while_training() -> None:
    fe = FrontendConfig(fusion="audio", audio_channels=4, audio_dim=8, output_dim=8, dropout=0.0)
    enc = ConformerConfig(d_model=8, num_heads=2, ffn_dim=16, num_layers=1, kernel_size=3, dropout=0.0)
    plain = TransducerModel(6, fe, enc, TransducerConfig(predictor_dim=8, context_size=2, joiner_dim=8))
    dropped = TransducerModel(6, fe, enc, TransducerConfig(predictor_dim=8, context_size=2, joiner_dim=8, predictor_dropout=0.5))
    assert isinstance(plain.predictor.dropout, torch.nn.Identity)  # draws no random numbers
    assert plain.state_dict().keys() == dropped.state_dict().keys()  # checkpoints interchange
    dropped.load_state_dict(plain.state_dict())
    y = torch.tensor([[1, 2, 3, 4]])
    plain.eval(), dropped.eval()
    assert torch.equal(plain.predictor(y), dropped.predictor(y))
    dropped.train()
    torch.manual_seed(0)
    out = dropped.predictor(y)
    assert not torch.equal(out, plain.predictor(y)) and bool((out == 0).any())
    with pytest.raises(AvsrInputError, match="predictor_dropout"):
        TransducerConfig(predictor_dropout=1.0)


def toy_graph() -> tuple[kaldifst.StdVectorFst, dict[tuple[int, ...], tuple[int, float]]]:
    """Input label k = token k-1; words 1..3. Sentences: tokens (1,2) → word 1 (cost 0.5),
    (3,) → word 2 (cost 0.2, through an epsilon arc), (1,3) → word 3 (cost 1.0)."""
    arcs = [(0, 1, 2, 0, 0.0), (1, 4, 3, 1, 0.5),  # token 1, token 2 / word 1
            (0, 2, 0, 0, 0.1), (2, 4, 4, 2, 0.1),  # eps, token 3 / word 2
            (1, 3, 4, 3, 1.0), (3, 4, 0, 0, 0.0)]  # token 3 / word 3, eps
    language = {(1, 2): (1, 0.5), (3,): (2, 0.2), (1, 3): (3, 1.0)}
    return compile_arcs(arcs, {4: 0.0}, 0, 5), language


@torch.no_grad()
def brute_force(model: TransducerModel, enc: torch.Tensor, language) -> dict[tuple[int, ...], float]:
    """log-sum over one-symbol-per-frame alignments of each in-language token sequence, minus its cost."""
    probs: dict[tuple[int, ...], float] = defaultdict(float)
    for choice in itertools.product(range(model.vocab_size), repeat=enc.shape[0]):
        y: list[int] = []
        logp = 0.0
        for t, k in enumerate(choice):
            ctx = ([-1, 0] + y)[-2:]
            pred = model.predictor(torch.tensor([ctx]), left_padded=True)[0, -1]
            logp += float(model.joiner(enc[t], pred).log_softmax(-1)[k])
            if k:
                y.append(k)
        if tuple(y) in language:
            probs[tuple(y)] += math.exp(logp)
    return {y: math.log(p) - language[y][1] for y, p in probs.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fst_beam_search_finds_the_brute_force_best(seed: int) -> None:
    model = tiny_transducer(4)
    fst, language = toy_graph()
    enc = torch.randn(4, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2
    truth = brute_force(model, enc, language)
    best = max(truth, key=truth.get)
    result = fst_beam_search(model, enc, 4, TokenGraph(fst), beam=10_000, token_prune=10)
    assert not result.partial
    assert tuple(result.tokens) == best and result.words == [language[best][0]]
    assert result.score == pytest.approx(truth[best], abs=1e-6)  # graph weights are float32


def test_fst_beam_search_flags_a_failure() -> None:
    """Every sentence needs 2 tokens except word 2; with word 2's arc removed, one frame is too few."""
    model = tiny_transducer(4)
    arcs = [(0, 1, 2, 0, 0.0), (1, 2, 3, 1, 0.5)]
    graph = TokenGraph(compile_arcs(arcs, {2: 0.0}, 0, 3))
    enc = torch.randn(1, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    result = fst_beam_search(model, enc, 1, graph, beam=8)
    assert result.partial and result.words == []
