"""--init-from: an AV model starts from the audio and video models' branches and encoder; a
transducer from a CTC+attention encoder; mismatches are refused by name."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from avsr.train.checkpoint import checkpoint_path, load_checkpoint
from avsr.corpora.toy.feature_corpus import make_synthetic_cuts
from e2e_helpers import TINY_CONFIG, TINY_TRANSDUCER, run, train_cmd, write_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, Path]:
    """One epoch of an audio-only and a video-only tiny CTC+attention model on a synthetic corpus."""
    work = tmp_path_factory.mktemp("init")
    data = work / "data"
    make_synthetic_cuts(data, {"train": 16, "dev": 4})
    for fusion in ("audio", "video"):
        conf = write_config(work / f"{fusion}.yaml", dict(TINY_CONFIG, frontend=dict(TINY_CONFIG["frontend"], fusion=fusion)))
        proc = run(train_cmd(conf, data, work / fusion, "--epochs", "1", "--bpe-model", str(work / "bpe.model")))
        assert proc.returncode == 0, proc.stderr[-2000:]
    return work, data, work / "bpe.model"


def _epoch1(exp: Path) -> dict:
    return load_checkpoint(checkpoint_path(exp, 1))["model"]


def test_av_model_starts_from_the_unimodal_models(trained):
    work, data, bpe = trained
    conf = write_config(work / "av.yaml", dict(TINY_CONFIG, train=dict(TINY_CONFIG["train"], lr=0.0)))  # lr 0: weights stay at init
    proc = run(train_cmd(conf, data, work / "av", "--epochs", "1", "--bpe-model", str(bpe),
                         "--init-from", f"{work / 'audio'}:frontend.audio.,encoder.,decoder.",
                         "--init-from", f"{work / 'video'}:frontend.video."))
    assert proc.returncode == 0, proc.stderr[-2000:]
    av, audio, video = _epoch1(work / "av"), _epoch1(work / "audio"), _epoch1(work / "video")
    for name in ("frontend.audio.conv1.weight", "encoder.layers.0.ffn1.net.1.weight"):
        if name in audio:
            assert torch.equal(av[name], audio[name]), name
    assert any(torch.equal(av[n], audio[n]) for n in audio if n.startswith("encoder."))
    assert all(torch.equal(av[n], video[n]) for n in video if n.startswith("frontend.video."))
    # the fusion layer is new: it exists only in the AV model
    assert any(n.startswith("frontend.fusion.") for n in av)
    config = (work / "av" / "config.yaml").read_text()
    assert "init:" in config and "frontend.video." in config


def test_transducer_from_ctc_attention_and_refusals(trained):
    work, data, bpe = trained
    conf = write_config(work / "rnnt.yaml", dict(TINY_TRANSDUCER, frontend=dict(TINY_TRANSDUCER["frontend"], fusion="audio"),
                                                 train=dict(TINY_TRANSDUCER["train"], lr=0.0)))
    ok = run(train_cmd(conf, data, work / "rnnt", "--epochs", "1", "--bpe-model", str(bpe),
                       "--init-from", f"{work / 'audio'}:frontend.,encoder."))
    assert ok.returncode == 0, ok.stderr[-2000:]
    rnnt, audio = _epoch1(work / "rnnt"), _epoch1(work / "audio")
    assert all(torch.equal(rnnt[n], audio[n]) for n in audio if n.startswith("encoder."))
    # a prefix that names nothing, and a source that was never trained, are errors naming the problem
    bad = run(train_cmd(conf, data, work / "rnnt_bad", "--epochs", "1", "--bpe-model", str(bpe),
                        "--init-from", f"{work / 'audio'}:joiner."))
    assert bad.returncode == 1 and "no parameters named joiner." in bad.stderr
    missing = run(train_cmd(conf, data, work / "rnnt_bad2", "--epochs", "1", "--bpe-model", str(bpe),
                            "--init-from", f"{work / 'nothing'}:encoder."))
    assert missing.returncode == 1 and "no checkpoint to initialise from" in missing.stderr


@pytest.mark.parametrize("fusion", ["concat", "bilinear"])
def test_av_model_started_as_the_audio_model_computes_the_same(trained, fusion):
    """--init-fusion-from: with the audio model's branch, encoder, CTC head and front-end map, the
    AV model's CTC outputs equal the audio model's before any update (video terms at zero)."""
    from avsr.e2e.decode import load_e2e_model
    from avsr.train.data import FeatureCache, collate, cuts_path, load_cuts

    work, data, bpe = trained
    conf = write_config(work / f"av_{fusion}.yaml", dict(TINY_CONFIG, frontend=dict(TINY_CONFIG["frontend"], fusion=fusion),
                                                        train=dict(TINY_CONFIG["train"], lr=0.0)))
    proc = run(train_cmd(conf, data, work / f"av_{fusion}", "--epochs", "1", "--bpe-model", str(bpe),
                         "--init-from", f"{work / 'audio'}:frontend.audio.,encoder.,ctc_head.",
                         "--init-from", f"{work / 'video'}:frontend.video.", "--init-fusion-from", str(work / "audio")))
    assert proc.returncode == 0, proc.stderr[-2000:]
    av, audio = load_e2e_model(work / f"av_{fusion}")[0], load_e2e_model(work / "audio")[0]
    cache = FeatureCache(load_cuts(cuts_path(data, "synthetic_grid", "dev")))
    batch = collate([cache.utts[i] for i in cache.ids()])
    with torch.no_grad():
        enc_av, n_av = av.encode(batch)
        enc_a, n_a = audio.encode(batch)
    assert torch.equal(n_av, n_a)
    assert torch.allclose(av.ctc_log_probs(enc_av), audio.ctc_log_probs(enc_a), atol=1e-5)
