"""GMM-HMM: features, monophone training/alignment (kaldi-hmm-gmm), decision tree, triphone
training, triphone H/HCLG, and a toy end-to-end decode. Toy data come from a known HMM
(avsr.corpora.toy.hmm_corpus), so the tests can check what training recovers."""
from __future__ import annotations

import numpy as np
import pytest

from avsr.hmm.alignment import FrameAlignment, read_alignments, write_alignments
from avsr.hmm.features import GmmFeatureConfig, gmm_features
from avsr.hmm.lang_info import LangInfo, phone_num_states
from avsr.hmm.mono import MonoConfig, align_mono, train_mono
from avsr.corpora.toy.hmm_corpus import make_toy_corpus, write_toy_lang
from avsr.hmm.tree import GaussStats, TreeConfig, build_tree, frame_contexts
from avsr.hmm.tri import TriConfig, TriphoneModel, train_tri
from avsr.utils.errors import AvsrInputError
from avsr.corpora.grid.grammar import grid_slots

FAST_MONO = MonoConfig(num_iters=10, total_gauss=200, max_iter_inc=8, realign_iters=(1, 2, 3, 4, 5, 6, 8))
FAST_TRI = TriConfig(num_leaves=150, total_gauss=400, num_iters=6, max_iter_inc=4, realign_iters=(3,), min_leaf_count=20)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    lang = LangInfo.load(write_toy_lang(root / "lang"))
    train = make_toy_corpus(60, seed=0)
    model, _ = train_mono(lang, train.audio, train.texts, FAST_MONO)
    ali, failed = align_mono(model, lang, train.audio, train.texts, FAST_MONO)
    return {"root": root, "lang": lang, "train": train, "mono": model, "ali": ali, "failed": failed}


def _phone_agreement(lang, corpus, alignments) -> float:
    scores = []
    for u, a in alignments.items():
        true = np.array([lang.phones[corpus.phones[k]] for k in corpus.true_phones[u]])
        scores.append(float((true == a.phone).mean()))
    return float(np.mean(scores))


def test_gmm_features_deltas_of_a_ramp():
    t = np.arange(50, dtype=np.float32)[:, None]
    mfcc = np.concatenate([t * 2.0, np.ones((50, 23), np.float32)], axis=1)
    x = gmm_features(mfcc, GmmFeatureConfig(num_ceps=13, delta_order=2, cmn=True))
    assert x.shape == (50, 39) and x.dtype == np.float32
    assert np.allclose(x[5:-5, 13], 2.0)  # delta of a slope-2 ramp, away from the edges
    assert np.allclose(x[5:-5, 26], 0.0, atol=1e-6)  # its delta-delta
    assert np.allclose(x[:, 1:13], 0.0)  # constant cepstra vanish under CMN


def test_mono_recovers_the_true_segmentation(toy):
    assert not toy["failed"]
    assert set(toy["ali"]) == set(toy["train"].texts)
    # Optional silence between words is the only freedom the toy corpus does not use.
    assert _phone_agreement(toy["lang"], toy["train"], toy["ali"]) > 0.85
    # pdf, phone, state are consistent with the model's transition ids
    pdf_phone = toy["mono"].pdf_phones()
    a = next(iter(toy["ali"].values()))
    assert np.array_equal(pdf_phone[a.pdf], a.phone)
    assert a.state.max() <= 4 and a.state.min() == 0


def test_energy_initialisation_keeps_long_pauses_in_silence(toy):
    """Long leading/trailing pauses (as the corpus' 0.3-0.5 s pads): the energy-based first
    alignment gives them to SIL, and training ends with the pauses in silence."""
    import dataclasses

    lang = toy["lang"]
    corpus = make_toy_corpus(40, seed=2, edge_silence=(30, 50), energy_contrast=3.0)
    cfg = dataclasses.replace(FAST_MONO, init_alignment="energy")
    model, _ = train_mono(lang, corpus.audio, corpus.texts, cfg)
    ali, failed = align_mono(model, lang, corpus.audio, corpus.texts, cfg)
    assert not failed
    sil = lang.phones["SIL"]
    tails = [float((a.phone[-25:] == sil).mean()) for a in ali.values()]
    assert np.mean(tails) > 0.95
    assert _phone_agreement(lang, corpus, ali) > 0.85


def test_alignment_archive_round_trip(toy, tmp_path):
    write_alignments(tmp_path / "ali.npz", toy["ali"])
    back = read_alignments(tmp_path / "ali.npz")
    for u, a in toy["ali"].items():
        assert np.array_equal(back[u].pdf, a.pdf) and np.array_equal(back[u].phone, a.phone) and np.array_equal(back[u].state, a.state)
    with pytest.raises(AvsrInputError, match="does not exist"):
        read_alignments(tmp_path / "missing.npz")


def test_phone_segments_split_repeated_phones():
    # phone 5 twice in a row (states 0,1,2 then 0,1,2) is two instances
    a = FrameAlignment(np.zeros(8), [5, 5, 5, 5, 5, 5, 7, 7], [0, 1, 2, 0, 1, 2, 0, 1])
    assert a.phone_segments() == [(5, 0, 3), (5, 3, 6), (7, 6, 8)]
    ctx = frame_contexts(a)
    assert ctx[0].tolist() == [0, 5, 5, 0] and ctx[4].tolist() == [5, 5, 7, 1] and ctx[7].tolist() == [5, 7, 0, 1]


def test_tree_splits_on_the_context_that_matters():
    rng = np.random.default_rng(0)
    keys, counts, sums, sqs = [], [], [], []
    for left in (1, 2, 3):
        for right in (1, 2, 3):
            x = rng.normal(5.0 if right == 3 else 0.0, 1.0, size=(200, 2))  # only right == 3 differs
            keys.append((left, 4, right, 0))
            counts.append(len(x))
            sums.append(x.sum(0))
            sqs.append((x * x).sum(0))
    stats = GaussStats(keys, np.array(counts, float), np.array(sums), np.array(sqs))
    tree = build_tree(stats, {1: 1, 2: 1, 3: 1, 4: 1}, TreeConfig(num_leaves=5, min_leaf_count=50, min_gain=50.0))
    # roots for phones 1-3 are unseen (one leaf each); phone 4 splits once, on the right context
    assert tree.num_leaves == 5
    root = tree.nodes[tree.roots[(4, 0)]]
    assert root.position == 2 and tree.questions[root.question] == frozenset([3])
    assert tree.pdf(1, 4, 3, 0) == tree.pdf(2, 4, 3, 0) != tree.pdf(2, 4, 1, 0) == tree.pdf(3, 4, 2, 0)
    assert tree.leaf_phone.count(4) == 2
    from avsr.hmm.tree import DecisionTree

    back = DecisionTree.from_dict(tree.to_dict())
    assert all(back.pdf(l, 4, r, 0) == tree.pdf(l, 4, r, 0) for l in (0, 1, 2, 3) for r in (0, 1, 2, 3))


def test_triphone_training_and_hclg_decoding(toy, tmp_path):
    """Toy end to end: mono -> tree -> tri -> triphone HCLG -> decode unseen utterances."""
    from avsr.decode.decoder import DecodingGraph
    from avsr.hmm.tri_graph import make_model_graph
    from avsr.hybrid.evaluate import decode_scores
    from avsr.lang.lm import make_lm
    from avsr.score.wer import compute_error_stats

    lang, train = toy["lang"], toy["train"]
    tri, tri_ali = train_tri(train.audio, toy["ali"], phone_num_states(lang.topo_text), FAST_TRI)
    assert tri.num_pdfs > len(lang.real_phone_ids()) * 2  # the context shifts were found
    assert _phone_agreement(lang, train, tri_ali) > 0.85
    # every senone belongs to one phone; senone ids of one phone are contiguous
    phones = tri.pdf_phones()
    assert all(np.all(np.diff(np.nonzero(phones == p)[0]) == 1) for p in set(phones.tolist()))
    (tmp_path / "tri").mkdir()
    tri.save(tmp_path / "tri" / "final.json")
    back = TriphoneModel.load(tmp_path / "tri" / "final.json")
    assert back.tree.num_leaves == tri.num_pdfs and back.self_loop == tri.self_loop
    x = next(iter(train.audio.values()))
    assert np.array_equal(back.log_likelihoods(x), tri.log_likelihoods(x))  # bit-exact, no pickle
    lm = make_lm(tmp_path / "lm", lang.lang_dir, kind="grammar", slots=grid_slots())
    info = make_model_graph(lang.lang_dir, lm, tmp_path / "tri", tmp_path / "graph")
    assert info["num_columns"] == tri.num_pdfs
    assert make_model_graph(lang.lang_dir, lm, tmp_path / "tri", tmp_path / "graph").get("skipped")
    graph = DecodingGraph.load(tmp_path / "graph")
    test = make_toy_corpus(12, seed=7, prefix="t")
    result = decode_scores(graph, {u: tri.log_likelihoods(x) for u, x in test.audio.items()}, acoustic_scale=0.1)
    assert not result.failed
    wer = compute_error_stats(test.texts, result.hyps).rate
    assert wer < 10.0  # chance on GRID is > 80 %


def test_mono_saved_without_pickle_round_trips_exactly(toy, tmp_path):
    import json

    from avsr.hmm.model_io import load_gmm_model

    mono = toy["mono"]
    mono.save(tmp_path / "mono" / "final.json")
    meta = json.loads((tmp_path / "mono" / "final.json").read_text())
    assert meta["kind"] == "mono" and meta["topo"] == toy["lang"].topo_text
    with np.load(tmp_path / "mono" / "final.npz", allow_pickle=False) as arrays:
        assert arrays["gmm_num_gauss"].sum() == mono.am.num_gauss
    back = load_gmm_model(tmp_path / "mono")
    assert back.transition_model.log_probs == mono.transition_model.log_probs
    assert back.transition_model.non_self_loop_log_probs == mono.transition_model.non_self_loop_log_probs
    x = next(iter(toy["train"].audio.values()))
    assert np.array_equal(back.log_likelihoods(x), mono.log_likelihoods(x))
    # the same alignments from the reloaded model
    texts = dict(list(toy["train"].texts.items())[:3])
    a, _ = align_mono(mono, toy["lang"], toy["train"].audio, texts, FAST_MONO)
    b, _ = align_mono(back, toy["lang"], toy["train"].audio, texts, FAST_MONO)
    assert all(np.array_equal(a[u].pdf, b[u].pdf) for u in a)
    # a replaced arrays file is detected, a pickle is refused
    (tmp_path / "mono" / "final.npz").write_bytes((tmp_path / "mono" / "final.npz").read_bytes() + b" ")
    with pytest.raises(AvsrInputError, match="sha256 differs"):
        load_gmm_model(tmp_path / "mono")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "final.pkl").write_bytes(b"x")
    with pytest.raises(AvsrInputError, match="pickle model files are no longer read"):
        load_gmm_model(tmp_path / "old")
