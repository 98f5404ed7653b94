"""Correctness against exhaustive enumeration on a tiny lexicon + weighted grammar:
the best path of L∘G, of (phone string)∘LG, and of HLG under a posterior matrix."""
from __future__ import annotations

import itertools
import math

import kaldifst
import numpy as np
import pytest

from avsr.decode.decoder import DecodeOptions, DecodingGraph, decode_best, decode_nbest
from avsr.lang.lexicon import Lexicon, LexiconEntry
from avsr.lang.prepare import LangOptions, prepare_lang
from avsr.lang.symbols import read_symbol_table
from avsr.wfst.compose import build_hlg, compose_lg, remove_disambig
from avsr.wfst.fstutil import compile_arcs, fst_to_text, read_fst

SIL_PROB = 0.3
# Homophones (ate/eight), a prefix (a ⊂ ate), pronunciation variants with probabilities.
LEXICON = Lexicon([
    LexiconEntry("a", ("e",), 1.0),
    LexiconEntry("ate", ("e", "t"), 1.0),
    LexiconEntry("eight", ("e", "t"), 1.0),
    LexiconEntry("tea", ("t", "i"), 1.0),
    LexiconEntry("tea", ("t", "e"), 0.5),
    LexiconEntry("it", ("i", "t"), 1.0),
])
# A weighted 2-slot grammar (not uniform, so the LM matters): (word, cost) per slot.
SLOTS = [[("a", 0.5), ("eight", 1.5), ("it", 1.0)], [("ate", 0.2), ("tea", 0.9), ("it", 2.0)]]


@pytest.fixture(scope="module")
def tiny_lang_and_g(tmp_path_factory):
    lang = tmp_path_factory.mktemp("lang") / "lang_tiny"
    prepare_lang(LEXICON, lang, LangOptions(sil_prob=SIL_PROB, unk_word=""))
    words = read_symbol_table(lang / "words.txt")
    arcs = [(k, k + 1, words[w], words[w], c) for k, slot in enumerate(SLOTS) for w, c in slot]
    G = compile_arcs(arcs, {len(SLOTS): 0.0}, 0, len(SLOTS) + 1)
    kaldifst.arcsort(G, sort_type="ilabel")
    return lang, G


# Both LG forms: the plain determinised one (Kaldi's LG.fst) and the one determinised on
# (phone, word) pairs that the HLG graphs use (words stay on token arcs, for sherpa-onnx).
@pytest.fixture(scope="module", params=[False, True], ids=["LG", "LG_words_on_phones"])
def tiny(tiny_lang_and_g, request):
    lang, G = tiny_lang_and_g
    phones = read_symbol_table(lang / "phones.txt")
    words = read_symbol_table(lang / "words.txt")
    LG = compose_lg(read_fst(lang / "L_disambig.fst"), G, words_stay_on_phones=request.param)
    disambig = [i for s, i in phones if s.startswith("#")]
    return phones, words, LG, disambig


def enumerate_paths() -> dict[tuple[str, ...], tuple[float, tuple[str, ...]]]:
    """Every (phone string) -> (best cost, words) over sentences, pronunciations and silences."""
    best: dict[tuple[str, ...], tuple[float, tuple[str, ...]]] = {}
    sil, nosil = -math.log(SIL_PROB), -math.log(1 - SIL_PROB)
    for choice in itertools.product(*SLOTS):
        words = tuple(w for w, _ in choice)
        lm = sum(c for _, c in choice)
        prons = [[(e.phones, -math.log(e.prob)) for e in LEXICON.entries if e.word == w] for w in words]
        for pron_choice in itertools.product(*prons):
            for sils in itertools.product((False, True), repeat=len(words) + 1):
                phones: list[str] = []
                cost = lm
                for k, flag in enumerate(sils):
                    cost += sil if flag else nosil
                    if flag:
                        phones.append("SIL")
                    if k < len(words):
                        phones += pron_choice[k][0]
                        cost += pron_choice[k][1]
                key = tuple(phones)
                if key not in best or cost < best[key][0] - 1e-9:
                    best[key] = (cost, words)
    return best


def _linear_result(fst: kaldifst.StdVectorFst, words) -> tuple[float, tuple[str, ...]]:
    text = fst_to_text(kaldifst.shortest_path(fst, n=1))
    nxt = {s: (d, o, w) for s, d, _i, o, w in text.arcs}
    state, cost, out = text.start, 0.0, []
    while state in nxt:
        state, olabel, w = nxt[state]
        cost += w
        if olabel:
            out.append(words.symbol(olabel))
    return cost + text.finals[state], tuple(out)


def test_best_path_of_LG_equals_enumeration(tiny):
    phones, words, LG, disambig = tiny
    table = enumerate_paths()
    best_cost, best_words = min(table.values())
    cost, out = _linear_result(remove_disambig(LG, disambig), words)
    assert out == best_words
    assert cost == pytest.approx(best_cost, abs=2e-3)  # minimize_encoded quantizes weights to 1/1024


@pytest.mark.parametrize("phone_string", [("e", "e", "t"), ("SIL", "e", "t", "t", "i"), ("i", "t", "SIL", "i", "t"), ("e", "t", "e")])
def test_phone_string_through_LG_equals_enumeration(tiny, phone_string):
    phones, words, LG, disambig = tiny
    table = enumerate_paths()
    acceptor = kaldifst.make_linear_acceptor([phones[p] for p in phone_string])
    composed = kaldifst.compose(acceptor, remove_disambig(LG, disambig))
    cost, out = _linear_result(kaldifst.StdVectorFst(composed), words)
    assert out == table[phone_string][1]
    assert cost == pytest.approx(table[phone_string][0], abs=2e-3)  # minimize_encoded quantizes weights to 1/1024


def ctc_collapse(labels: np.ndarray, blank: int = 0) -> tuple[int, ...]:
    out, prev = [], blank
    for t in labels:
        if t != prev and t != blank:
            out.append(int(t))
        prev = t
    return tuple(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hlg_best_path_equals_enumeration_over_all_frame_labelings(tiny, seed):
    phones, words, LG, disambig = tiny
    tokens = [i for s, i in phones if i and not s.startswith("#")]
    num_cols = max(tokens) + 1
    built = build_hlg(LG, disambig, tokens)
    graph = DecodingGraph("hlg", built.fst, words, None, built.num_columns, {})
    rng = np.random.default_rng(seed)
    # Posteriors leaning towards a real phone string, so the best path is informative.
    target = [phones["e"], phones["e"], 0, phones["t"], phones["i"], 0]
    logits = rng.normal(0, 1.0, size=(len(target), num_cols)) + 2.5 * np.eye(num_cols)[target]
    logp = (logits - np.log(np.exp(logits).sum(1, keepdims=True))).astype(np.float32)
    # Exhaustive: every labelling of every frame (num_cols ** T sequences).
    table = enumerate_paths()
    by_ids = {tuple(phones[p] for p in k): v for k, v in table.items()}
    T = logp.shape[0]
    best = (math.inf, ())
    grid = np.array(list(itertools.product(range(num_cols), repeat=T)))
    acoustic = -logp[np.arange(T), grid].sum(axis=1)
    for row, ac in zip(grid, acoustic):
        entry = by_ids.get(ctc_collapse(row))
        if entry is not None and ac + entry[0] < best[0]:
            best = (ac + entry[0], entry[1])
    hyp = decode_best(graph, logp, DecodeOptions(beam=1e4, max_active=100000, min_active=1))
    assert tuple(hyp.words) == best[1]
    assert hyp.cost == pytest.approx(best[0], abs=2e-3)
    nbest = decode_nbest(graph, logp, DecodeOptions(nbest=3, nbest_columns=num_cols))
    assert tuple(nbest[0].words) == best[1]
    assert nbest[0].cost == pytest.approx(best[0], abs=2e-3)
    assert [h.cost for h in nbest] == sorted(h.cost for h in nbest)
    assert len({tuple(h.words) for h in nbest}) == len(nbest)


def _words_sherpa_onnx_skips(fst: kaldifst.StdVectorFst, blank_label: int = 1) -> int:
    """Word labels on arcs that sherpa-onnx's HLG path reader skips: epsilon or blank input, or a
    token's self-loop (a repeated frame, not a new token)."""
    return sum(1 for s, d, i, o, _ in fst_to_text(fst).arcs if o and (i in (0, blank_label) or s == d))


def test_hlg_words_sit_on_token_arcs_when_lg_keeps_them_on_phones(tiny_lang_and_g):
    lang, G = tiny_lang_and_g
    phones = read_symbol_table(lang / "phones.txt")
    disambig = [i for s, i in phones if s.startswith("#")]
    tokens = [i for s, i in phones if i and not s.startswith("#")]
    L = read_fst(lang / "L_disambig.fst")
    skipped = {flag: _words_sherpa_onnx_skips(build_hlg(compose_lg(L, G, words_stay_on_phones=flag), disambig, tokens).fst)
               for flag in (False, True)}
    # "a" (e) is a prefix of "ate" / "eight" (e t): the plain determinised LG delays its label
    # onto an epsilon arc, which sherpa-onnx would drop
    assert skipped[False] > 0
    assert skipped[True] == 0
