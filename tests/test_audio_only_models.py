"""Stages 8-13 models on an audio-only corpus (cuts without video arrays): the hybrid audio
variant and the audio E2E model train and score without a video stream, and give exactly what
they give on the same audio with video present (video is ignored, not faked); a model that
reads video fails with one line naming the cut set and the cut."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from lhotse import CutSet
from lhotse.utils import fastcopy

from avsr.hmm.alignment import FrameAlignment, write_alignments
from avsr.corpora.toy.hmm_corpus import make_toy_corpus, write_toy_cuts
from avsr.hybrid.frontend import FrontEnd
from avsr.hybrid.pipeline import evaluate_hybrid, train_hybrid
from avsr.train.data import FeatureCache, collate
from avsr.corpora.toy.feature_corpus import make_synthetic_cuts
from avsr.utils.errors import AvsrInputError
from e2e_helpers import REPO, TINY_CONFIG, write_config

# ---------------------------------------------------------------- hybrid (stages 8-9)

HYBRID_SETS = {"train": (30, 0), "dev": (6, 3), "test": (6, 4)}  # name: (utterances, seed)


def _strip_video(path: Path) -> None:
    """Rewrite a stage-3 cut set as an audio-only corpus's: no ``roi_dct`` array."""
    cuts = [fastcopy(c, custom={k: v for k, v in c.custom.items() if k != "roi_dct"}) for c in CutSet.from_file(path)]
    CutSet.from_cuts(cuts).to_file(path)


def _write_true_alignments(corpus, ali_dir: Path, set_name: str, num_phones: int) -> None:
    """The toy corpus's true phone of every frame as its 'CD state' (what exp/tri would give)."""
    ali_dir.mkdir(parents=True, exist_ok=True)
    write_alignments(ali_dir / f"ali_{set_name}.npz",
                     {u: FrameAlignment(lab, lab, np.zeros_like(lab)) for u, lab in corpus.true_phones.items()})
    (ali_dir / "pdf_phone.int").write_text("".join(f"{i} {i}\n" for i in range(num_phones)))


@pytest.fixture(scope="module")
def hybrid_dirs(tmp_path_factory) -> dict[str, Path]:
    """Two feature dirs with the same toy utterances: ``av`` (stage 3 with video) and ``audio``
    (the roi_dct arrays removed), and one alignment dir."""
    root = tmp_path_factory.mktemp("hybrid_audio_only")
    dirs = {"av": root / "fbank_av", "audio": root / "fbank_audio", "ali": root / "tri"}
    for name, (n, seed) in HYBRID_SETS.items():
        corpus = make_toy_corpus(n, seed=seed, prefix=name[:2], audio_noise=1.2)
        write_toy_cuts(corpus, dirs["av"], name)
        _strip_video(write_toy_cuts(corpus, dirs["audio"], name))
        _write_true_alignments(corpus, dirs["ali"], name, len(corpus.phones))
    return dirs


def _hybrid_conf(variant: str) -> dict:
    conf = yaml.safe_load((REPO / "conf" / "hybrid_common.yaml").read_text())
    conf["model"].update(variant=variant, audio_hidden=[48, 32], video_hidden=[48, 32], concat_hidden=[48, 32])
    conf["train"].update(epochs=2, lr=0.002)
    conf.pop("init_towers", None)
    conf["train_set"] = "train"  # (the recipe trains on train_multi)
    return conf


def test_hybrid_audio_variant_trains_and_scores_without_video(hybrid_dirs: dict[str, Path], tmp_path: Path) -> None:
    conf = _hybrid_conf("audio")
    out = {}
    for kind in ("audio", "av"):
        out[kind] = tmp_path / f"hybrid_audio_{kind}"
        info = train_hybrid(conf, hybrid_dirs[kind], "toy", hybrid_dirs["ali"], out[kind], device="cpu")
        assert info["architecture"].startswith("[360,48,32,")
    assert not FrontEnd.load(out["audio"] / "frontend.npz").has_video  # no video transform fitted
    assert FrontEnd.load(out["av"] / "frontend.npz").has_video
    # the audio net ignores video: the same weights with and without it
    a = torch.load(out["audio"] / "final.pt", weights_only=True)["state_dict"]
    b = torch.load(out["av"] / "final.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    scores = evaluate_hybrid(conf, out["audio"], hybrid_dirs["audio"], "toy", ["test"], device="cpu")
    assert scores["test"]["frame_per"] < 60.0  # chance: > 95 %
    # an audio-only model scores a set with video too (the video stream is not used)
    again = evaluate_hybrid(conf, out["audio"], hybrid_dirs["av"], "toy", ["test"], device="cpu")
    assert again["test"]["frame_per"] == scores["test"]["frame_per"]


@pytest.mark.parametrize("variant", ["video", "bilinear"])
def test_hybrid_video_variants_refuse_audio_only_cuts(hybrid_dirs: dict[str, Path], tmp_path: Path, variant: str) -> None:
    with pytest.raises(AvsrInputError) as err:
        train_hybrid(_hybrid_conf(variant), hybrid_dirs["audio"], "toy", hybrid_dirs["ali"], tmp_path / variant, device="cpu")
    message = str(err.value)
    assert message.startswith(str(hybrid_dirs["audio"] / "toy_cuts_train.jsonl.gz"))
    assert "30 of 30 cuts have no 'roi_dct' array" in message and "first: tr0000" in message and "needs video" in message
    assert "\n" not in message


# ---------------------------------------------------------------- E2E (stages 10-13)

E2E_SETS = {"train": 16, "dev": 4}


@pytest.fixture(scope="module")
def e2e_data(tmp_path_factory) -> dict[str, Path]:
    """The synthetic corpus twice: with mouth crops and without (identical fbank and texts)."""
    root = tmp_path_factory.mktemp("e2e_audio_only")
    make_synthetic_cuts(root / "av", E2E_SETS)
    make_synthetic_cuts(root / "audio", E2E_SETS, video=False)
    return {"av": root / "av", "audio": root / "audio"}


def test_audio_only_cache_and_batches_carry_no_video(e2e_data: dict[str, Path]) -> None:
    cache = FeatureCache(CutSet.from_file(e2e_data["audio"] / "fbank" / "synthetic_grid_cuts_train.jsonl.gz"))
    av = FeatureCache(CutSet.from_file(e2e_data["av"] / "fbank" / "synthetic_grid_cuts_train.jsonl.gz"))
    assert len(cache.without_video()) == 16 and av.without_video() == []
    assert all(np.array_equal(cache.utts[i].fbank, av.utts[i].fbank) for i in cache.ids())
    stats, av_stats = cache.normalisation_stats(), av.normalisation_stats()
    assert torch.equal(stats[0], av_stats[0]) and stats[2:] == (0.0, 1.0) and av_stats[2] > 0.1
    batch = collate([cache.utts[i] for i in cache.ids()[:3]])
    assert batch.video.shape == (3, 0, 0, 0) and batch.video_lengths.tolist() == [0, 0, 0]
    assert batch.audio.shape[0] == 3 and int(batch.audio_lengths.min()) > 0
    cache.check_video("audio")  # the audio model needs no video


def test_e2e_audio_model_trains_and_decodes_without_video(e2e_data: dict[str, Path], tmp_path: Path) -> None:
    from avsr.e2e.decode_jobs import decode_sets
    from avsr.train.e2e import train_e2e

    cfg = dict(TINY_CONFIG, frontend=dict(TINY_CONFIG["frontend"], fusion="audio"),
               train=dict(TINY_CONFIG["train"], epochs=1))
    conf = write_config(tmp_path / "conf.yaml", cfg)
    for kind in ("audio", "av"):
        train_e2e(conf, tmp_path / kind, e2e_data[kind], device="cpu")
    losses = {k: (tmp_path / k / "log" / "epochs.csv").read_text().splitlines()[1].split(",")[1:3] for k in ("audio", "av")}
    assert np.isfinite(float(losses["audio"][0])) and losses["audio"] == losses["av"]  # same training, video or not
    cache = FeatureCache(CutSet.from_file(e2e_data["audio"] / "fbank" / "synthetic_grid_cuts_dev.jsonl.gz"))
    records = decode_sets(tmp_path / "audio", {"dev": cache}, methods=["ctc_greedy"])
    assert len(records) == 1 and records[0]["num_utts"] == 4 and records[0]["modality"] == "A"


@pytest.mark.parametrize("fusion", ["video", "concat", "bilinear"])
def test_models_reading_video_refuse_audio_only_cuts(e2e_data: dict[str, Path], fusion: str) -> None:
    path = e2e_data["audio"] / "fbank" / "synthetic_grid_cuts_train.jsonl.gz"
    with pytest.raises(AvsrInputError) as err:
        FeatureCache(CutSet.from_file(path), fusion=fusion, source=path)
    message = str(err.value)
    assert message.startswith(f"{path}: 16 of 16 cuts have no video") and "first: train_0000" in message
    assert f"fusion {fusion!r} model needs video" in message and "\n" not in message
    FeatureCache(CutSet.from_file(e2e_data["av"] / "fbank" / "synthetic_grid_cuts_train.jsonl.gz"), fusion=fusion)
