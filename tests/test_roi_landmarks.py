"""Landmark mouth locator on real GRID clips (copies): every frame located, steady, on the lips;
the Haar fallback; the config switch. Thresholds come from bench/bench_roi.py on the 400 clips
of the s1 fixture (docs/dev-notes/roi.md)."""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

import avsr.video.landmarks as landmarks
from avsr.utils.config import load_yaml
from avsr.video.io import read_video_frames
from avsr.video.landmarks import LandmarkConfig, LandmarkModelMissing, mouth_centres
from avsr.video.locator import LocatorConfig, locate_mouth
from avsr.video.track_stats import centre_jitter, offset_from_reference

ROOT = Path(__file__).resolve().parents[1]
GRID_S1 = next((p for p in (ROOT.parent / "shared" / "fixtures" / "grid_s1", Path("/work/shared/fixtures/grid_s1")) if p.is_dir()),
               ROOT.parent / "shared" / "fixtures" / "grid_s1")
CLIPS = ("bbaf2n", "swwv9a")  # two sentences of speaker s1
HAAR = {"scale_factor": 1.15, "min_face_fraction": 0.3, "detect_every": 6}
LANDMARKS = LocatorConfig(locator="landmarks", haar=HAAR)

# Measured on the 400 s1 clips (bench_roi.py): smoothed landmark track, box-centre step between
# consecutive frames, 95th percentile 0.52 px (0.7 % of the box side); worst clip's p95 1.36 px.
MAX_JITTER_P95_PX = 1.5
MAX_JITTER_P95_REL = 0.02


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> dict[str, np.ndarray]:
    if not GRID_S1.is_dir():
        pytest.fail(f"GRID s1 fixture not found at {GRID_S1}")
    tmp = tmp_path_factory.mktemp("grid_s1_roi")
    out = {}
    for utt in CLIPS:
        shutil.copyfile(GRID_S1 / "s1" / f"{utt}.mpg", tmp / f"{utt}.mpg")  # the originals are only read
        out[utt] = read_video_frames(tmp / f"{utt}.mpg")
    return out


@pytest.fixture(scope="module")
def rois(frames):
    return {utt: locate_mouth(f, LANDMARKS) for utt, f in frames.items()}


def test_every_frame_of_real_clips_is_located(frames, rois):
    for utt, roi in rois.items():
        assert roi.source == "landmarks" and not roi.used_fallback
        assert roi.detected.all(), f"{utt}: mouth landmarks missing in {int((~roi.detected).sum())} frames"
        assert roi.face_fraction == 1.0
        assert roi.crops.shape == (len(frames[utt]), 44, 44) and roi.crops.dtype == np.uint8
        assert roi.points.shape == (len(frames[utt]), 68, 2)


def test_landmark_track_is_steady_and_on_the_lips(rois):
    for utt, roi in rois.items():
        px, rel = centre_jitter(roi.boxes)
        assert np.percentile(px, 95) < MAX_JITTER_P95_PX, f"{utt}: jitter p95 {np.percentile(px, 95):.2f} px"
        assert np.percentile(rel, 95) < MAX_JITTER_P95_REL
        # The box stays on the mouth: within 8 % of its side of the 20 lip landmarks' mean.
        off = np.linalg.norm(offset_from_reference(roi.boxes, mouth_centres(roi.points)), axis=1)
        assert off.max() < 0.08, f"{utt}: box centre {off.max():.3f} box sides off the lips"
        # Lips at the centre of the crop: the darkest row of the central columns (lip line).
        central = roi.crops[:, :, 11:33].astype(np.float64).mean(axis=2)
        assert abs(central.argmin(axis=1).mean() / 44 - 0.5) < 0.12


def test_tilted_head_is_still_located(frames):
    """A head rolled by 30 degrees: Haar's frontal cascade loses it, the landmarks (fitted on the
    frame turned upright) do not."""
    clip = frames["bbaf2n"][::3]
    m = cv2.getRotationMatrix2D((180, 144), 30, 1.0)
    rolled = np.stack([cv2.warpAffine(f, m, (360, 288), borderMode=cv2.BORDER_REPLICATE) for f in clip])
    roi = locate_mouth(rolled, LANDMARKS)
    haar = locate_mouth(rolled, LocatorConfig(haar=HAAR))
    assert roi.source == "landmarks" and roi.detected.mean() >= 0.95
    assert haar.face_fraction < 0.5


def test_falls_back_to_haar_when_landmarks_find_nothing(frames, monkeypatch):
    clip = frames["swwv9a"][:20]
    # The predictor fits nothing (as on the embedded corpus's rendered faces): the Haar track.
    monkeypatch.setattr("avsr.video.locator.fit_landmarks",
                        lambda f, b, *args, **kwargs: (np.zeros((len(f), 68, 2), np.float32), np.ones(len(f), np.float32)))
    roi = locate_mouth(clip, LANDMARKS)
    assert roi.source == "haar" and roi.locator == "landmarks" and roi.used_fallback
    assert roi.points is None and roi.face_fraction == 1.0
    haar = locate_mouth(clip, LocatorConfig(haar=HAAR))
    np.testing.assert_allclose(roi.boxes, haar.boxes)
    # No face at all: Haar's own fallback (centre box), still counted as a fallback.
    blank = locate_mouth(np.zeros((6, 96, 96), np.uint8), LANDMARKS)
    assert blank.source == "centre_default" and blank.used_fallback and blank.face_fraction == 0.0


def test_rendered_face_falls_back_to_haar():
    """The embedded corpus's cartoon faces: HOG finds them, the predictor does not fit them."""
    from avsr.corpora.synthetic.render import render_face_video, sample_face_style
    from avsr.data.types import Segment

    phones = [Segment("b", 0.1, 0.2), Segment("u:", 0.2, 0.5)]
    frames, _ = render_face_video(phones, [Segment("blue", 0.1, 0.5)], 0.8, sample_face_style(np.random.default_rng(3)), seed=1)
    roi = locate_mouth(frames, LANDMARKS)
    assert roi.source == "haar" and roi.used_fallback and roi.face_fraction >= 0.9


def test_config_switch():
    video = load_yaml(ROOT / "conf" / "features.yaml")["video"]
    assert LocatorConfig.from_video_conf(video, "grid").locator == "landmarks"
    assert LocatorConfig.from_video_conf(video, "lrs3").locator == "landmarks"
    assert LocatorConfig.from_video_conf(video, "synthetic_grid").locator == "haar"
    assert LocatorConfig.from_video_conf(video, "some_new_corpus").locator == video["locator"]["default"]
    cfg = LocatorConfig.from_video_conf({"locator": "landmarks", "landmarks": {"side_iod": 2.0}, "haar": HAAR})
    assert cfg.landmarks == replace(LandmarkConfig(), side_iod=2.0) and cfg.haar == HAAR
    assert LocatorConfig.from_video_conf({}).locator == "haar"
    with pytest.raises(ValueError, match="video.locator must be one of"):
        LocatorConfig.from_video_conf({"locator": "mediapipe"})
    with pytest.raises(ValueError, match="unknown video.landmarks setting"):
        LocatorConfig.from_video_conf({"locator": "landmarks", "landmarks": {"side": 2}})
    with pytest.raises(ValueError, match="'default' entry"):
        LocatorConfig.from_video_conf({"locator": {"grid": "landmarks"}})


def test_haar_locator_is_the_plain_haar_track(frames):
    clip = frames["bbaf2n"][:12]
    roi = locate_mouth(clip, LocatorConfig(haar=HAAR))
    assert roi.source == "haar" and roi.locator == "haar" and not roi.used_fallback and roi.points is None


def test_missing_model_package_is_a_clear_error(monkeypatch):
    real = landmarks.importlib.util.find_spec
    monkeypatch.setattr(landmarks.importlib.util, "find_spec", lambda name: None if name == landmarks.MODEL_PACKAGE else real(name))
    with pytest.raises(LandmarkModelMissing, match="face-recognition-models"):
        landmarks.landmark_model_path()
    assert not landmarks.landmarks_available()
