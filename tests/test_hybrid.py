"""Hybrid HMM/DNN: seed front-end (stacking, video interpolation, LDA), spliced frame batches,
every DNN variant, gradient checks of the bilinear variants through the whole net, the shared
variant reducing to the unshared one, frozen towers, posterior averaging, bootstrap intervals,
and a toy end-to-end run (GMM alignments -> DNN -> pseudo-likelihoods -> HCLG -> WER)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from avsr.hybrid.data import FrameSet, build_frame_set
from avsr.hybrid.evaluate import bootstrap_interval, frame_error_counts, log_priors, paired_bootstrap_better
from avsr.hybrid.frontend import FrontEnd, FrontEndConfig, StreamConfig, fit_lda, interpolate_video, stack_frames
from avsr.hybrid.models import VARIANTS, HybridModel, ModelConfig
from avsr.hybrid.pipeline import architecture_string, average_log_posteriors
from avsr.hybrid.train import TrainConfig, frame_errors, train_model
from avsr.corpora.grid.grammar import grid_slots

torch.set_num_threads(1)


def test_stack_frames_replicates_edges():
    x = np.arange(5, dtype=np.float32)[:, None]
    s = stack_frames(x, 1)
    assert s.tolist() == [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 4]]


def test_video_interpolation_hits_audio_frame_times():
    video = (np.arange(10, dtype=np.float64) * 0.04 + 0.02)[:, None]  # value = time of the video frame
    up = interpolate_video(video, 40)
    t = (np.arange(40) + 0.5) * 0.01
    inside = (t >= 0.02) & (t <= 0.38)
    assert up.shape == (40, 1)
    assert np.allclose(up[inside, 0], t[inside])
    assert np.allclose(up[~inside & (t < 0.1), 0], 0.02)  # held at the edges


def test_lda_separates_classes_better_than_raw_directions():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 3000)
    centres = rng.normal(0, 3, (4, 2))
    signal = centres[labels]
    x = np.concatenate([signal + rng.normal(0, 0.5, (3000, 2)), rng.normal(0, 10, (3000, 6))], axis=1)
    mix = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    x = x @ mix  # hide the informative directions among the noisy ones
    mean, w = fit_lda(x, labels, 2)
    z = (x - mean) @ w

    def ratio(y):
        cm = np.stack([y[labels == c].mean(0) for c in range(4)])
        within = np.mean([y[labels == c].var(0).sum() for c in range(4)])
        return cm.var(0).sum() / within

    assert ratio(z) > 5 * max(ratio(x[:, [i, j]]) for i in range(8) for j in range(i + 1, 8))


def _toy_streams(n_utts=6, seed=0):
    rng = np.random.default_rng(seed)
    audio, video, labels = {}, {}, {}
    for i in range(n_utts):
        t = int(rng.integers(40, 60))
        y = rng.integers(0, 5, t)
        audio[f"u{i}"] = (np.eye(5)[y] @ rng.normal(0, 1, (5, 6)) + 0.1 * rng.normal(size=(t, 6))).astype(np.float32)
        video[f"u{i}"] = rng.normal(size=((t + 3) // 4, 4)).astype(np.float32)
        labels[f"u{i}"] = y
    return audio, video, labels


def _small_frontend():
    return FrontEndConfig(audio=StreamConfig("mfcc", 1, 4, 2), video=StreamConfig("roi_dct", 1, 3, 2))


def test_frontend_fit_save_load_and_frame_batches(tmp_path):
    audio, video, labels = _toy_streams()
    fe = FrontEnd(_small_frontend()).fit(audio, video, labels)
    a, v = fe.transform(audio["u0"], video["u0"])
    assert a.shape == (len(audio["u0"]), 4) and v.shape == (len(audio["u0"]), 3)
    fe.save(tmp_path / "fe.npz")
    back = FrontEnd.load(tmp_path / "fe.npz")
    a2, v2 = back.transform(audio["u0"], video["u0"])
    assert np.array_equal(a, a2) and np.array_equal(v, v2)
    data = build_frame_set(fe, audio, video, labels)
    assert data.num_frames == sum(len(x) for x in audio.values())
    # a frame at the start of utterance 1 sees only utterance 1's frames
    first = int(data.offsets[1])
    idx = data.context_index(np.array([first, first + 1]), 2)
    assert idx[0].tolist() == [first, first, first, first + 1, first + 2]
    a_b, v_b, y_b = data.batch(np.array([first]), 2, 2, torch.device("cpu"))
    assert a_b.shape == (1, 4 * 5) and v_b.shape == (1, 3 * 5) and int(y_b[0]) == labels[data.utt_ids[1]][0]
    # noisy copies take the clean utterance's labels
    noisy = build_frame_set(fe, {"n0": audio["u0"]}, {"n0": video["u0"]}, labels, {"n0": "u0"})
    assert np.array_equal(noisy.labels, labels["u0"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_gives_class_logits(variant):
    cfg = ModelConfig(variant, audio_hidden=(8, 6), video_hidden=(7, 5), concat_hidden=(9, 6), fusion_hidden=(6,), fusion_dim=4, dropout=0.0)
    groups = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    model = HybridModel(cfg, 10, 12, 7, groups)
    out = model(torch.randn(3, 10), torch.randn(3, 12))
    assert out.shape == (3, 7)
    assert architecture_string(cfg, 10, 12, 7, 3).startswith("[")


@pytest.mark.parametrize("variant", ["bilinear", "factored", "shared_factored"])
def test_gradcheck_through_the_bilinear_hybrid_nets(variant):
    torch.manual_seed(0)
    cfg = ModelConfig(variant, audio_hidden=(4, 3), video_hidden=(4, 3), fusion_dim=2, activation="tanh", dropout=0.0)
    model = HybridModel(cfg, 5, 6, 4, torch.tensor([0, 0, 1, 1])).double()
    a = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 6, dtype=torch.float64, requires_grad=True)
    params = list(model.parameters())

    def f(a, v, *ps):
        with torch.nn.utils.stateless._reparametrize_module(model, {n: p for (n, _), p in zip(model.named_parameters(), ps)}):
            out = model(a, v)
            return out, model.regularization(a, v)

    assert torch.autograd.gradcheck(f, (a, v, *[p.detach().clone().requires_grad_(True) for p in params]), eps=1e-6, atol=1e-5)


def test_shared_reduces_to_unshared_when_every_class_is_its_own_group():
    torch.manual_seed(0)
    cfg_f = ModelConfig("factored", audio_hidden=(8, 6), video_hidden=(8, 5), fusion_dim=4, dropout=0.0)
    cfg_s = ModelConfig("shared_factored", audio_hidden=(8, 6), video_hidden=(8, 5), fusion_dim=4, dropout=0.0)
    factored = HybridModel(cfg_f, 10, 12, 7)
    shared = HybridModel(cfg_s, 10, 12, 7, torch.arange(7))
    shared.load_state_dict(factored.state_dict(), strict=False)  # + its group_of_class buffer
    assert set(shared.state_dict()) - set(factored.state_dict()) == {"fusion.group_of_class"}
    a, v = torch.randn(16, 10), torch.randn(16, 12)
    assert torch.equal(factored(a, v), shared(a, v))
    assert torch.equal(factored.regularization(a, v), shared.regularization(a, v))
    # with real groups it has fewer parameters: C x F -> G x F
    grouped = HybridModel(cfg_s, 10, 12, 7, torch.tensor([0, 0, 0, 1, 1, 2, 2]))
    n = lambda m: sum(p.numel() for p in m.fusion.parameters())  # noqa: E731
    assert n(factored) - n(grouped) == (7 - 3) * 4


def test_deep_fusion_freezes_the_unimodal_towers():
    torch.manual_seed(0)
    audio, video, labels = _toy_streams(4)
    fe = FrontEnd(_small_frontend()).fit(audio, video, labels)
    data = build_frame_set(fe, audio, video, labels)
    kw = dict(audio_hidden=(8, 6), video_hidden=(8, 5), fusion_hidden=(6,), dropout=0.2)
    uni_a, uni_v = HybridModel(ModelConfig("audio", **kw), 20, 15, 5), HybridModel(ModelConfig("video", **kw), 20, 15, 5)
    fused = HybridModel(ModelConfig("deep_fusion", **kw), 20, 15, 5)
    fused.load_towers(uni_a.state_dict(), uni_v.state_dict(), freeze=True)
    before = {k: t.clone() for k, t in fused.state_dict().items()}
    train_model(fused, data, None, (2, 2), TrainConfig(epochs=2, batch_size=32), torch.device("cpu"))
    after = fused.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(("audio_net.", "video_net.")))
    assert not all(torch.equal(before[k], after[k]) for k in before if k.startswith("fusion."))
    assert torch.equal(after["audio_net.tower.0.weight"], uni_a.state_dict()["audio_net.tower.0.weight"])
    fused.train()
    assert not fused.audio_net.training  # frozen towers never use dropout


def test_posterior_average_and_priors():
    p1 = {"u": np.log(np.array([[0.9, 0.1], [0.2, 0.8]], np.float32))}
    p2 = {"u": np.log(np.array([[0.5, 0.5], [0.6, 0.4]], np.float32))}
    avg = average_log_posteriors([p1, p2])
    assert np.allclose(np.exp(avg["u"]), [[0.7, 0.3], [0.4, 0.6]], atol=1e-6)
    lp = log_priors(np.array([0, 0, 0, 1, -1]), 3)
    assert np.isclose(np.exp(lp).sum(), 1.0) and lp[0] > lp[1] == lp[2]  # unseen state 2: smallest seen prior
    counts = frame_error_counts(avg, {"u": np.array([0, 0])})
    assert counts == {"u": (1, 2)}


def test_bootstrap_intervals():
    errors, totals = [1] * 50 + [0] * 50, [1] * 100
    lo, hi = bootstrap_interval(errors, totals, num_samples=2000)
    assert lo < 50.0 < hi and hi - lo < 25
    assert paired_bootstrap_better([0] * 100, totals, errors, totals) == 1.0


def test_toy_end_to_end_gmm_alignments_to_hybrid_decode(tmp_path):
    """Toy corpus from a known HMM: mono -> tri alignments -> front-end (LDA on CD states) ->
    audio-only and factored bilinear DNNs -> pseudo-likelihoods -> triphone HCLG -> WER."""
    from avsr.decode.decoder import DecodingGraph
    from avsr.hmm.lang_info import LangInfo, phone_num_states
    from avsr.hmm.mono import MonoConfig, align_mono, train_mono
    from avsr.corpora.toy.hmm_corpus import make_toy_corpus, write_toy_lang
    from avsr.hmm.tri import TriConfig, align_tri, train_tri
    from avsr.hmm.tri_graph import make_model_graph
    from avsr.hybrid.evaluate import score_set
    from avsr.lang.lm import make_lm

    lang = LangInfo.load(write_toy_lang(tmp_path / "lang"))
    train = make_toy_corpus(60, seed=0, audio_noise=1.5, video_noise=1.0)
    dev = make_toy_corpus(10, seed=5, prefix="d", audio_noise=1.5)
    test = make_toy_corpus(10, seed=9, prefix="t", audio_noise=1.5)
    mono_cfg = MonoConfig(num_iters=8, total_gauss=150, max_iter_inc=6, realign_iters=(1, 2, 3, 4, 6))
    mono, _ = train_mono(lang, train.audio, train.texts, mono_cfg)
    ali = {name: align_mono(mono, lang, c.audio, c.texts, mono_cfg)[0] for name, c in (("train", train), ("dev", dev), ("test", test))}
    tri, tri_train = train_tri(train.audio, ali["train"], phone_num_states(lang.topo_text),
                               TriConfig(num_leaves=120, total_gauss=300, num_iters=4, max_iter_inc=3, realign_iters=(2,), min_leaf_count=20))
    labels = {u: a.pdf for u, a in tri_train.items()}
    for c, name in ((dev, "dev"), (test, "test")):
        labels.update({u: a.pdf for u, a in align_tri(tri, c.audio, ali[name]).items()})
    (tmp_path / "tri").mkdir()
    tri.save(tmp_path / "tri" / "final.json")
    graph_dir = tmp_path / "graph"
    make_model_graph(lang.lang_dir, make_lm(tmp_path / "lm", lang.lang_dir, kind="grammar", slots=grid_slots()), tmp_path / "tri", graph_dir)
    graph = DecodingGraph.load(graph_dir)

    fe_cfg = FrontEndConfig(audio=StreamConfig("mfcc", 2, 20, 2), video=StreamConfig("roi_dct", 2, 10, 2))
    fe = FrontEnd(fe_cfg).fit(train.audio, train.video, labels)
    sets = {name: build_frame_set(fe, c.audio, c.video, labels) for name, c in (("train", train), ("dev", dev), ("test", test))}
    priors = log_priors(sets["train"].labels, tri.num_pdfs)
    results = {}
    for variant in ("audio", "factored"):
        torch.manual_seed(0)
        cfg = ModelConfig(variant, audio_hidden=(128, 64), video_hidden=(64, 32), fusion_dim=32, dropout=0.0)
        model = HybridModel(cfg, 20 * 5, 10 * 5, tri.num_pdfs)
        hist = train_model(model, sets["train"], sets["dev"], (2, 2), TrainConfig(epochs=4, batch_size=128, lr=2e-3), torch.device("cpu"))
        assert hist[-1]["train_ce"] < hist[0]["train_ce"]
        with torch.no_grad():
            logpost = {}
            for u, frames in sets["test"].utterances():
                a, v, _ = sets["test"].batch(frames, 2, 2, torch.device("cpu"))
                logpost[u] = torch.log_softmax(model(a, v), -1).numpy()
        results[variant] = score_set(variant, "test", logpost, labels, tmp_path / variant / "score_test",
                                     pseudo_ll={u: m - priors for u, m in logpost.items()}, graph=graph, refs=test.texts, acoustic_scale=0.2)
        err, frames, _ = frame_errors(model, sets["test"], (2, 2), torch.device("cpu"))
        assert abs(100.0 * err / frames - results[variant]["frame_per"]) < 1e-2
    for variant, r in results.items():
        assert r["frame_per"] < 60.0, (variant, r["frame_per"])  # chance: > 99 % over ~120 states
        assert r["wer"] < 25.0, (variant, r["wer"])  # chance on GRID: > 80 %
        assert (tmp_path / variant / "score_test" / "summary.json").is_file()
        assert set(r["per_utt"]) == set(test.texts)
