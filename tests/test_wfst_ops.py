"""Our OpenFst additions (project, relabel, weight pushing), the CTC topology, and the
idempotent graph builder."""
from __future__ import annotations

import random

import kaldifst
import numpy as np
import pytest

from avsr.corpora.grid.grammar import sample_sentence
from avsr.corpora.grid.espeak_lexicon import grid_espeak_lexicon
from avsr.lang.lm import make_lm
from avsr.lang.prepare import prepare_lang
from avsr.utils.errors import AvsrInputError
from avsr.wfst.ctc_topo import ctc_topology
from avsr.wfst.fstutil import compile_arcs, fst_size, fst_to_text, project, push_weights, relabel_to_epsilon
from avsr.wfst.make_graph import make_graph
from avsr.corpora.grid.grammar import grid_slots


def all_paths(fst) -> dict[tuple, float]:
    """Every accepting path of an acyclic FST: (ilabels, olabels) -> best cost."""
    text = fst_to_text(fst)
    out: dict[tuple, float] = {}
    stack = [(text.start, (), (), 0.0)]
    while stack:
        state, ins, outs, cost = stack.pop()
        if state in text.finals:
            key = (ins, outs)
            out[key] = min(out.get(key, float("inf")), cost + text.finals[state])
        for s, d, i, o, w in text.arcs:
            if s == state:
                stack.append((d, ins + ((i,) if i else ()), outs + ((o,) if o else ()), cost + w))
    return out


def random_dag(seed: int):
    rng = random.Random(seed)
    arcs = [(s, d, rng.randint(1, 3), rng.randint(0, 3), round(rng.uniform(0, 3), 3))
            for s in range(5) for d in range(s + 1, 6) if rng.random() < 0.6]
    return compile_arcs(arcs + [(0, 1, 1, 1, 0.5)], {5: 0.25, 3: 1.0}, 0, 6)


@pytest.mark.parametrize("seed", range(4))
def test_push_weights_keeps_every_path_cost(seed):
    fst = random_dag(seed)
    pushed, total = push_weights(fst)
    before, after = all_paths(fst), all_paths(pushed)
    assert before.keys() == after.keys()
    for key in before:
        assert after[key] == pytest.approx(before[key], abs=1e-4)
    assert total == pytest.approx(min(before.values()), abs=1e-4)
    stripped, _ = push_weights(fst, remove_total_weight=True)
    assert min(all_paths(stripped).values()) == pytest.approx(0.0, abs=1e-4)


def test_project_and_relabel():
    fst = compile_arcs([(0, 1, 1, 5, 0.5), (1, 2, 2, 0, 0.0)], {2: 0.0}, 0, 3)
    assert [(a[2], a[3]) for a in fst_to_text(project(fst, "input")).arcs] == [(1, 1), (2, 2)]
    assert [(a[2], a[3]) for a in fst_to_text(project(fst, "output")).arcs] == [(5, 5), (0, 0)]
    assert [(a[2], a[3]) for a in fst_to_text(relabel_to_epsilon(fst, [2])).arcs] == [(1, 5), (0, 0)]


def test_ctc_topology_collapses_repeats_and_blanks():
    H = ctc_topology([1, 2, 3])
    assert fst_size(H) == {"states": 4, "arcs": 16}
    kaldifst.arcsort(H, sort_type="ilabel")
    # Frames (token ids): 1 1 blank 1 2 2 blank -> tokens 1 1 2; input labels are token + 1.
    frames = [1, 1, 0, 1, 2, 2, 0]
    out = kaldifst.compose(kaldifst.make_linear_acceptor([t + 1 for t in frames]), H)
    assert [a[3] for a in sorted(fst_to_text(out).arcs) if a[3]] == [1, 1, 2]


def test_make_graph_skips_when_inputs_unchanged_and_rebuilds_G_for_another_lang(tmp_path):
    lang = prepare_lang(grid_espeak_lexicon(), tmp_path / "lang_a")
    text = tmp_path / "text"
    rng = random.Random(0)
    text.write_text("".join(" ".join(sample_sentence(rng)) + "\n" for _ in range(100)))
    make_lm(tmp_path / "lm", lang, kind="ngram", text=text, order=2)
    first = make_graph("hlg", lang, tmp_path / "lm", tmp_path / "g")
    assert not first.get("skipped") and not first["G_rebuilt_for_lang"]
    assert make_graph("hlg", lang, tmp_path / "lm", tmp_path / "g")["skipped"]
    # A lang with different word ids: G is recompiled against it inside the graph dir.
    from avsr.lang.lexicon import Lexicon, LexiconEntry

    lex_b = Lexicon(grid_espeak_lexicon().entries + [LexiconEntry("aardvark", ("a", "d"))])
    lang_b = prepare_lang(lex_b, tmp_path / "lang_b")
    info = make_graph("hclg", lang_b, tmp_path / "lm", tmp_path / "g2")
    assert info["G_rebuilt_for_lang"] and (tmp_path / "g2/G.fst").is_file()
    assert info["sizes"]["graph"]["arcs"] > info["sizes"]["HCLGa"]["arcs"]  # self-loops added last


def test_hclg_from_a_saved_model_file(tmp_path):
    """A trained monophone model saved as final.json + final.npz (no pickle) drives H; a legacy
    final.pkl is refused, never loaded and never silently replaced by an untrained H."""
    import kaldi_hmm_gmm as khg

    from avsr.hmm.mono import GmmHmm

    lang = prepare_lang(grid_espeak_lexicon(), tmp_path / "lang")
    make_lm(tmp_path / "lm", lang, kind="grammar", slots=grid_slots())
    topo_text = (lang / "topo").read_text()
    topo = khg.HmmTopology()
    topo.read(topo_text)
    ctx = khg.monophone_context_dependency(topo.phones, topo.get_phone_to_num_pdf_classes())
    gmm = khg.DiagGmm(nmix=1, dim=2)
    gmm.set_weights(np.ones(1, np.float32))
    gmm.set_means(np.zeros((1, 2), np.float32))
    gmm.set_invvars(np.ones((1, 2), np.float32))
    gmm.compute_gconsts()
    am = khg.AmDiagGmm()
    for _ in range(ctx.num_pdfs):
        am.add_pdf(gmm)
    model = tmp_path / "exp/mono"
    model.mkdir(parents=True)
    GmmHmm(khg.TransitionModel(ctx, topo), ctx, am, topo_text=topo_text).save(model / "final.json")
    info = make_graph("hclg", lang, tmp_path / "lm", tmp_path / "g", model)
    assert info["h_model"].endswith("final.json") and "model/final.json" in info["input_hashes"]
    assert "model/final.npz" in info["input_hashes"]
    legacy = tmp_path / "exp/legacy"
    legacy.mkdir()
    (legacy / "final.pkl").write_bytes(b"not to be unpickled")
    with pytest.raises(AvsrInputError, match="pickle model files are no longer read"):
        make_graph("hclg", lang, tmp_path / "lm", tmp_path / "g_legacy", legacy)
    assert info["num_columns"] == ctx.num_pdfs
