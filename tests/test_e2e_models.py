"""Front-end, encoder and E2E model behaviour: shapes, padding invariance, missing streams,
losses, samplers, and that a tiny model learns the toy corpus."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from avsr.e2e.search_ctc import ctc_greedy
from avsr.e2e.search_transducer import modified_beam_search
from avsr.e2e.tokens import BpeTokenizer, train_bpe
from avsr.corpora.grid.grammar import grid_vocabulary
from avsr.models.factory import build_model
from avsr.models.frontend import FUSIONS, AVFrontend, FrontendConfig
from avsr.models.rnnt_loss import available_backends, rnnt_loss
from avsr.train.data import FeatureCache, SpecAugment, Utterance, collate, fixed_batches, utterance_tokenizer
from avsr.corpora.toy.feature_corpus import make_synthetic_cuts
from avsr.utils.errors import AvsrInputError
from e2e_helpers import TINY_CONFIG, TINY_TRANSDUCER


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def utt(uid: str, frames: int, seed: int, text: str = "bin blue at a one now") -> Utterance:
    rng = np.random.default_rng(seed)
    return Utterance(uid, rng.normal(size=(frames, 80)).astype(np.float32),
                     rng.integers(0, 256, (math.ceil(frames / 4), 44, 44)).astype(np.uint8), text, frames / 100)


def small_frontend(fusion: str) -> FrontendConfig:
    return FrontendConfig(fusion=fusion, audio_channels=4, audio_dim=16, video_channels=4, video_dim=16, output_dim=16,
                          bilinear_rank=8, modality_dropout=0.0, dropout=0.0)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_frontend_shapes_and_25fps_lengths(fusion: str) -> None:
    torch.manual_seed(0)
    fe = AVFrontend(small_frontend(fusion)).eval()
    batch = collate([utt("a", 101, 0), utt("b", 64, 1)])
    z, lengths = fe(batch.audio, batch.audio_lengths, batch.video, batch.video_lengths)
    assert lengths.tolist() == [26, 16]  # ceil(T/4) = video frames at 25 fps
    assert z.shape == (2, 26, 16)
    assert torch.all(z[1, 16:] == 0)


@pytest.mark.parametrize("kind", ["ctc_attention", "transducer"])
@pytest.mark.parametrize("fusion", ["bilinear", "concat", "video"])
def test_encoder_output_does_not_depend_on_padding(kind: str, fusion: str) -> None:
    """A short utterance alone and padded inside a batch give the same encodings: the basis of
    DDP equivalence (batch composition never changes a frame's result)."""
    torch.manual_seed(0)
    cfg = dict(TINY_CONFIG if kind == "ctc_attention" else TINY_TRANSDUCER)
    cfg["frontend"] = dict(cfg["frontend"], fusion=fusion)
    model = build_model(cfg, 20).eval()
    short, long = utt("s", 90, 0), utt("l", 171, 1)
    with torch.no_grad():
        alone, n = model.encode(collate([short]))
        both, lengths = model.encode(collate([long, short]))
    assert int(lengths[1]) == int(n[0]) == 23
    assert torch.allclose(alone[0], both[1, :23], atol=1e-5)


def test_dropped_stream_is_ignored_and_only_stream_cannot_be_dropped() -> None:
    torch.manual_seed(0)
    for fusion in ("bilinear", "concat"):
        fe = AVFrontend(small_frontend(fusion)).eval()
        a, b = collate([utt("a", 80, 0)]), collate([utt("a", 80, 5)])  # same lengths, other content
        with torch.no_grad():
            z1, _ = fe(a.audio, a.audio_lengths, a.video, a.video_lengths, drop="video")
            z2, _ = fe(a.audio, a.audio_lengths, b.video, b.video_lengths, drop="video")
            z3, _ = fe(a.audio, a.audio_lengths, b.video, b.video_lengths)
            z4, _ = fe(b.audio, b.audio_lengths, a.video, a.video_lengths, drop="audio")
            z5, _ = fe(a.audio, a.audio_lengths, a.video, a.video_lengths, drop="audio")
        assert torch.allclose(z1, z2) and not torch.allclose(z1, z3)
        assert torch.allclose(z4, z5)
    fe = AVFrontend(small_frontend("audio"))
    a = collate([utt("a", 80, 0)])
    with pytest.raises(ValueError, match="cannot drop"):
        fe(a.audio, a.audio_lengths, a.video, a.video_lengths, drop="audio")


def test_modality_dropout_only_in_training() -> None:
    torch.manual_seed(0)
    cfg = small_frontend("concat")
    cfg.modality_dropout = 1.0
    fe = AVFrontend(cfg)
    batch = collate([utt(str(i), 60, i) for i in range(8)])
    fe.train()
    z_train, _ = fe(batch.audio, batch.audio_lengths, batch.video, batch.video_lengths)
    fe.eval()
    with torch.no_grad():
        z_eval, _ = fe(batch.audio, batch.audio_lengths, batch.video, batch.video_lengths)
        no_a, _ = fe(batch.audio, batch.audio_lengths, batch.video, batch.video_lengths, drop="audio")
        no_v, _ = fe(batch.audio, batch.audio_lengths, batch.video, batch.video_lengths, drop="video")
    for i in range(8):  # p = 1: every item lost exactly one stream
        assert torch.allclose(z_train[i], no_a[i], atol=1e-6) or torch.allclose(z_train[i], no_v[i], atol=1e-6)
        assert not torch.allclose(z_train[i], z_eval[i], atol=1e-6)


def test_transducer_loss_is_rnnt_plus_weighted_ctc() -> None:
    torch.manual_seed(0)
    model = build_model(TINY_TRANSDUCER, 12).eval()
    batch = collate([utt("a", 120, 0), utt("b", 80, 1)])
    batch.tokens = [[3, 4, 5], [7]]
    loss, info = model(batch)
    with torch.no_grad():
        enc, lengths = model.encode(batch)
        pred = model.predictor(torch.tensor([[0, 3, 4, 5], [0, 7, 0, 0]]))
        logits = model.joiner(enc[:, :, None], pred[:, None])
        want = rnnt_loss(logits, torch.tensor([[3, 4, 5], [7, 0, 0]]), lengths, torch.tensor([3, 1]), reduction="sum")
    assert info["rnnt"] == pytest.approx(float(want), rel=1e-5)
    assert float(loss.detach()) == pytest.approx(info["rnnt"] + 0.2 * info["ctc"], rel=1e-5)


def test_loss_backend_option() -> None:
    cfg = dict(TINY_TRANSDUCER, transducer=dict(TINY_TRANSDUCER["transducer"], loss_backend="torchaudio"))
    model = build_model(cfg, 12)
    batch = collate([utt("a", 40, 0)])
    batch.tokens = [[3]]
    if "torchaudio" in available_backends():
        loss, _ = model(batch)
        assert torch.isfinite(loss)
    else:  # not importable here (deps.md): the option must fail loudly, as documented, never fall back
        with pytest.raises(ImportError):
            model(batch)


def test_unknown_config_key_is_named() -> None:
    cfg = dict(TINY_CONFIG, encoder=dict(TINY_CONFIG["encoder"], num_layer=3))
    with pytest.raises(AvsrInputError, match="num_layer"):
        build_model(cfg, 10)


def test_fixed_batches_are_world_size_invariant() -> None:
    ids = [f"u{i:02d}" for i in range(20)]
    one = fixed_batches(ids, 8, epoch=3, seed=1)
    r0 = fixed_batches(ids, 4, epoch=3, seed=1, world_size=2, rank=0)
    r1 = fixed_batches(ids, 4, epoch=3, seed=1, world_size=2, rank=1)
    assert len(one) == len(r0) == len(r1) == 2
    for g, a, b in zip(one, r0, r1):
        assert sorted(g) == sorted(a + b)
    assert fixed_batches(ids, 8, epoch=4, seed=1) != one


def test_spec_augment_masks_with_fill_value() -> None:
    torch.manual_seed(0)
    aug = SpecAugment(freq_masks=1, freq_width=10, time_masks=1, time_width=20, video_time_masks=1, video_time_width=5)
    audio, video = torch.randn(200, 80), torch.full((50, 44, 44), 200, dtype=torch.uint8)
    fill = torch.full((80,), 7.0)
    hits = 0
    for _ in range(10):
        a, v = aug(audio, video, fill, 100)
        hits += int((a == 7.0).any()) + int((v == 100).any())
        assert a.shape == audio.shape and v.shape == video.shape
        assert torch.all((a == audio) | (a == 7.0))
    assert hits >= 10
    assert torch.all(video == 200)  # input untouched


def test_tiny_ctc_attention_and_transducer_learn_toy_corpus(tmp_path: Path) -> None:
    """A few hundred steps on 8 toy utterances (audio-only front-end, for speed): CTC greedy and
    transducer modified beam search read them back."""
    paths = make_synthetic_cuts(tmp_path, {"train": 8}, noise=0.3)
    from lhotse import CutSet

    cache = FeatureCache(CutSet.from_file(paths["train"]))
    tok = BpeTokenizer(train_bpe([u.text for u in cache.utts.values()], tmp_path / "bpe.model", 64, grid_vocabulary()))
    batch = collate([cache.utts[i] for i in cache.ids()], utterance_tokenizer(tok))
    for base, steps in ((TINY_CONFIG, 160), (TINY_TRANSDUCER, 260)):
        cfg = dict(base, frontend=dict(base["frontend"], fusion="audio"))
        torch.manual_seed(0)
        model = build_model(cfg, tok.vocab_size)
        model.frontend.set_normalisation(*cache.normalisation_stats())
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        model.train()
        for _ in range(steps):
            loss, _ = model(batch)
            opt.zero_grad()
            (loss / len(batch)).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            enc, lengths = model.encode(batch)
            if cfg["model"] == "ctc_attention":
                hyps = [tok.decode(ctc_greedy(model.ctc_log_probs(enc[b, : lengths[b]]))) for b in range(len(batch))]
            else:
                hyps = [tok.decode(modified_beam_search(model, enc[b], int(lengths[b]), 4)[0][0])
                        for b in range(len(batch))]
        correct = sum(h == r for h, r in zip(hyps, batch.texts))
        assert correct >= 7, (cfg["model"], list(zip(hyps, batch.texts)))
