"""HCLG path weights against a hand computation (Kaldi's mkgraph conventions): a state held d
frames costs self_loop_scale * (-log(1 - p_loop) - (d - 1) log p_loop); transition_scale only
multiplies the forward probabilities renormalised without the self-loop, which are 1 (cost 0)
for a left-to-right topology. Checked for the monophone H (kaldi-hmm-gmm) and our triphone H.

Toy lang: words ab = p q and ba = q p, no silence, grammar "ab ba" (one sentence, so L and G
weigh nothing); every path crosses a phone boundary inside a word and a word boundary."""
from __future__ import annotations

import numpy as np
import pytest

from avsr.decode.decoder import DecodeOptions, DecodingGraph, decode_best
from avsr.lang.lexicon import Lexicon, LexiconEntry
from avsr.lang.lm import make_lm
from avsr.lang.prepare import LangOptions, prepare_lang
from avsr.lang.symbols import read_symbol_table
from avsr.wfst.compose import build_hclg, compose_lg
from avsr.wfst.fstutil import read_fst

SELF_LOOP_SCALE = 0.1
TRANSITION_SCALE = 1.0
WORDS = ["ab", "ba"]
PHONES = ["p", "q", "q", "p"]  # the sentence's phone sequence


@pytest.fixture(scope="module")
def toy_lang(tmp_path_factory):
    root = tmp_path_factory.mktemp("hclg_weights")
    lexicon = Lexicon([LexiconEntry("ab", ("p", "q")), LexiconEntry("ba", ("q", "p"))])
    lang = prepare_lang(lexicon, root / "lang", LangOptions(sil_phone="", unk_word="", unk_phone=""))
    lm = make_lm(root / "lm", lang, kind="grammar", slots=[["ab"], ["ba"]])
    phones = read_symbol_table(lang / "phones.txt")
    disambig = [i for s, i in phones if s.startswith("#")]
    LG = compose_lg(read_fst(lang / "L_disambig.fst"), read_fst(lm / "G.fst"))
    return lang, phones, LG, disambig


def _graph(built, words_txt) -> DecodingGraph:
    from avsr.lang.symbols import read_symbol_table as read_table

    return DecodingGraph("hclg", built.fst, read_table(words_txt), built.column_map, built.num_columns, {})


def _graph_cost(graph: DecodingGraph, pdf_sequence: list[int]) -> float:
    """Graph cost of the best path whose frames read exactly ``pdf_sequence`` (peaked scores)."""
    matrix = np.full((len(pdf_sequence), graph.num_columns), -1000.0, np.float32)
    matrix[np.arange(len(pdf_sequence)), pdf_sequence] = 0.0
    hyp = decode_best(graph, matrix, DecodeOptions(beam=1e4, max_active=100000, acoustic_scale=1.0))
    assert hyp is not None and not hyp.partial and hyp.words == WORDS
    assert hyp.acoustic_cost == pytest.approx(0.0, abs=1e-3)  # the path read the wanted pdfs only
    return hyp.graph_cost


def _expected(durations: list[int], loop_probs: list[float]) -> float:
    """sum over visited states of self_loop_scale * (-log(1 - p) - (d - 1) log p)."""
    return sum(SELF_LOOP_SCALE * (-np.log1p(-p) - (d - 1) * np.log(p)) for d, p in zip(durations, loop_probs))


def test_monophone_hclg_weights_match_hand_computation(toy_lang):
    import kaldi_hmm_gmm as khg

    from avsr.wfst.hmm_h import MonophoneHBuilder

    lang, phones, LG, disambig = toy_lang
    builder = MonophoneHBuilder.from_topology((lang / "topo").read_text(), transition_scale=TRANSITION_SCALE,
                                              self_loop_scale=SELF_LOOP_SCALE)
    tm = builder.transition_model
    # distinct self-loop probabilities per state, as training would give: counts -> mle_update
    stats = np.zeros(tm.num_transition_ids + 1)
    for tid in range(1, tm.num_transition_ids + 1):
        stats[tid] = 100.0 + 37.0 * tid if tm.is_self_loop(tid) else 40.0 + 11.0 * tid
    tm.mle_update(stats, khg.MleTransitionUpdateConfig())
    built = build_hclg(LG, disambig, builder)
    graph = _graph(built, lang / "words.txt")
    # (pdf, self-loop probability) of each HMM state of each phone, from the transition model
    states: dict[int, list[tuple[int, float]]] = {}
    for tid in range(1, tm.num_transition_ids + 1):
        if tm.is_self_loop(tid):
            states.setdefault(int(tm.transition_id_to_phone(tid)), []).append(
                (int(tm.transition_id_to_pdf(tid)), float(np.exp(tm.log_probs[tid]))))
    durations = [2, 1, 4, 3, 1, 2, 1, 5, 2, 3, 1, 2]  # 4 phones x 3 states
    seq, probs = [], []
    for k, phone in enumerate(PHONES):
        for s, (pdf, p_loop) in enumerate(states[phones[phone]]):
            seq += [pdf] * durations[3 * k + s]
            probs.append(p_loop)
    assert len(set(np.round(probs, 4))) > 3  # the check is not blind to which probability goes where
    assert _graph_cost(graph, seq) == pytest.approx(_expected(durations, probs), abs=2e-3)


def _toy_triphone(phones) -> "object":
    """A tree with one leaf per (phone, state) except q's first state, split on the left phone
    (left p vs anything else), and distinct self-loop probabilities."""
    from avsr.hmm.tree import DecisionTree, TreeNode
    from avsr.hmm.tri import TriphoneModel

    p, q = phones["p"], phones["q"]
    nodes, roots, leaf_phone, leaf_state = [], {}, [], []
    for phone in (p, q):
        for s in range(3):
            roots[(phone, s)] = len(nodes)
            if phone == q and s == 0:
                nodes += [TreeNode(position=0, question=0, yes=len(nodes) + 1, no=len(nodes) + 2), TreeNode(), TreeNode()]
            else:
                nodes.append(TreeNode())
    leaf = 0
    for (phone, s), root in sorted(roots.items()):
        for n in ([nodes[root].yes, nodes[root].no] if nodes[root].position >= 0 else [root]):
            nodes[n].leaf = leaf
            leaf_phone.append(phone)
            leaf_state.append(s)
            leaf += 1
    tree = DecisionTree([frozenset([p])], roots, nodes, leaf, leaf_phone, leaf_state)
    loops = {(phone, s): 0.3 + 0.1 * s + (0.25 if phone == q else 0.0) for phone in (p, q) for s in range(3)}
    return TriphoneModel(tree, None, loops, {p: 3, q: 3})


def test_triphone_hclg_weights_match_hand_computation(toy_lang):
    from avsr.hmm.tri_graph import TriphoneHBuilder

    lang, phones, LG, disambig = toy_lang
    model = _toy_triphone(phones)
    built = build_hclg(LG, disambig, TriphoneHBuilder(model, TRANSITION_SCALE, SELF_LOOP_SCALE))
    graph = _graph(built, lang / "words.txt")
    ids = [phones[ph] for ph in PHONES]
    durations = [1, 3, 2, 2, 1, 4, 3, 2, 1, 2, 2, 3]
    seq, probs, pdfs_of_q0 = [], [], set()
    for k, phone in enumerate(ids):
        left = ids[k - 1] if k > 0 else 0
        right = ids[k + 1] if k + 1 < len(ids) else 0
        for s in range(3):
            pdf = model.tree.pdf(left, phone, right, s)
            if phone == phones["q"] and s == 0:
                pdfs_of_q0.add(pdf)
            seq += [pdf] * durations[3 * k + s]
            probs.append(model.self_loop[(phone, s)])
    assert len(pdfs_of_q0) == 2  # the two q's are different triphones (left p vs left q)
    cost = _graph_cost(graph, seq)
    assert cost == pytest.approx(_expected(durations, probs), abs=2e-3)
    # the pre-fix weights (exit probability at transition_scale 1.0 instead of self_loop_scale)
    # would add 0.9 * sum(-log(1 - p)) on top: far outside the tolerance
    assert abs(cost - _expected(durations, probs)) < 0.1 * (1 - SELF_LOOP_SCALE) * sum(-np.log1p(-p) for p in probs)
