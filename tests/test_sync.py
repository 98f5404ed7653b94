"""avsr.sync: the video-shift function, offset estimation (cross-correlation and the learned
two-stream model, both losses), the matched/mismatched AUC and the training CLI."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from lhotse import CutSet

from avsr.sync.estimate import candidate_offsets, diagonal_means, pick_offset, roc_auc
from avsr.sync.evaluate import injected_offset_accuracy, matched_mismatched_auc
from avsr.sync.model import SyncModelConfig
from avsr.sync.pipeline import SyncSettings, load_clips
from avsr.sync.scoring import make_curve_fn, strided_diagonal_means
from avsr.sync.shift import add_video_shift, load_video_array, shift_frames, video_shift_of, with_video_shift
from avsr.sync.streams import injected
from avsr.sync.train import SyncTrainConfig, load_sync_model, save_sync_model, train_sync_model

sys.path.insert(0, str(Path(__file__).parent))
from sync_helpers import make_sync_cuts  # noqa: E402

CONF = Path(__file__).resolve().parents[1] / "conf" / "sync.yaml"
OFFSETS = candidate_offsets(15)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("sync_toy")
    paths = make_sync_cuts(d, "toy", {"train": 12, "test": 6})
    settings = SyncSettings.load(CONF)
    return d, paths, settings, {k: load_clips(CutSet.from_file(p), settings) for k, p in paths.items()}


def test_shift_frames_delays_and_repeats_edges():
    x = np.arange(6)
    assert shift_frames(x, 0) is x
    assert shift_frames(x, 2).tolist() == [0, 0, 0, 1, 2, 3]  # video 2 frames late
    assert shift_frames(x, -2).tolist() == [2, 3, 4, 5, 5, 5]
    assert shift_frames(shift_frames(x, 3), -3)[:3].tolist() == [0, 1, 2]  # undoing restores all but the edge
    crops = np.random.default_rng(0).integers(0, 255, (7, 4, 4))
    assert shift_frames(crops, 1).shape == crops.shape


def test_cut_shift_field_is_applied_by_the_loader(toy):
    _, paths, _, _ = toy
    cut = CutSet.from_file(paths["test"])[0]
    raw = cut.load_custom("mouth_roi")
    assert video_shift_of(cut) == 0 and np.array_equal(load_video_array(cut), raw)
    moved = add_video_shift(add_video_shift(cut, 3), -1)
    assert video_shift_of(moved) == 2 and cut.custom.get("video_shift") is None  # the original is untouched
    assert np.array_equal(load_video_array(moved), shift_frames(raw, 2))
    assert np.array_equal(load_video_array(moved, "roi_dct"), shift_frames(cut.load_custom("roi_dct"), 2))
    assert np.array_equal(load_video_array(moved, raw=True), raw)
    assert "video_shift" not in (with_video_shift(moved, 0).custom or {})
    again = CutSet.from_dicts([moved.to_dict()])[0]  # survives the manifest round trip
    assert video_shift_of(again) == 2


def test_pick_offset_and_diagonals():
    sim = np.zeros((8, 8))
    for t in range(8):
        if 0 <= t + 2 < 8:
            sim[t, t + 2] = 1.0  # audio window t matches video window t + 2: the video lags by 2
    curve = diagonal_means(sim, OFFSETS[10:21], min_count=1)  # offsets -5..5
    est = pick_offset("c", curve, OFFSETS[10:21])
    assert est.offset_frames == 2 and est.offset_ms == 80.0 and est.confidence > 0.9
    idx = np.arange(0, 8, 2)
    strided = strided_diagonal_means(sim[:, idx], idx, OFFSETS[10:21], 1)
    assert OFFSETS[10:21][int(np.nanargmax(strided))] == 2
    flat = pick_offset("f", np.zeros(5), [-2, -1, 0, 1, 2])
    assert flat.offset_frames == 0 and flat.confidence == 0.0  # ties go to the smallest shift


def test_roc_auc_matches_pairwise_count():
    rng = np.random.default_rng(1)
    pos, neg = rng.normal(1, 1, 30).round(1), rng.normal(0, 1, 40).round(1)
    brute = np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])
    assert roc_auc(pos, neg) == pytest.approx(brute, abs=1e-4)
    assert roc_auc([1, 2], []) is None


def test_xcorr_baseline_recovers_injected_offsets(toy):
    _, _, settings, clips = toy
    res = injected_offset_accuracy(clips["test"], make_curve_fn("xcorr", OFFSETS, xcorr_cfg=settings.xcorr), OFFSETS, [-7, 0, 5])
    assert res["overall"]["within_tolerance"] >= 0.9
    assert res["false_alarm_rate"] <= 0.2


@pytest.mark.parametrize("loss", ["multiway", "contrastive"])
def test_learned_model_trains_without_labels_and_finds_offsets(toy, loss, tmp_path):
    _, _, settings, clips = toy
    torch.set_num_threads(1)
    # the pairwise loss learns slower than the multi-way one (as in Chung et al. 2019)
    cfg = SyncTrainConfig(loss=loss, steps=15 if loss == "multiway" else 30, clips_per_batch=4, log_every=5)
    model, info = train_sync_model(clips["train"], settings.model, cfg)
    assert info["history"][-1]["loss"] < info["history"][0]["loss"]
    fn = make_curve_fn("learned", OFFSETS, model, video_stride=2)
    res = injected_offset_accuracy(clips["test"], fn, OFFSETS, [-9, 0, 4])
    assert res["overall"]["within_tolerance"] >= 0.9 and res["false_alarm_rate"] == 0.0
    auc = matched_mismatched_auc(clips["test"], fn, OFFSETS)
    assert auc["auc_score_at_zero"] >= 0.9
    save_sync_model(model, tmp_path / "m", cfg, info)
    again, meta = load_sync_model(tmp_path / "m")  # weights_only load
    assert meta["train_config"]["loss"] == loss and SyncModelConfig(**meta["model_config"]) == model.cfg
    c = clips["test"][0]
    assert np.allclose(make_curve_fn("learned", OFFSETS, again, video_stride=2)(c), fn(c), atol=1e-5)


def test_injection_moves_the_estimate(toy):
    _, _, settings, clips = toy
    fn = make_curve_fn("xcorr", OFFSETS, xcorr_cfg=settings.xcorr)
    c = clips["test"][1]
    base = pick_offset(c.cut_id, fn(c), OFFSETS).offset_frames
    assert abs(pick_offset(c.cut_id, fn(injected(c, 6)), OFFSETS).offset_frames - (base + 6)) <= 1
