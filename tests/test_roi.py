"""Mouth ROI extraction on the two real GRID clips: detection, lip centring, gap filling, DCT features."""
from __future__ import annotations


import cv2
import numpy as np
import pytest

from avsr.video.contact_sheet import write_contact_sheet
from avsr.video.io import read_video_frames
from avsr.video.roi import (
    detect_faces,
    extract_mouth_rois,
    mouth_boxes_from_faces,
    roi_dct_features,
    zigzag_indices,
)
from tests.conftest import copy_grid_sample


CLIPS = {"s1/bbaf2n": "s1/bbaf2n.mpg", "id2/swwp2s": "id2/swwp2s.mpg"}


@pytest.fixture(scope="module")
def grid_frames(tmp_path_factory) -> dict[str, np.ndarray]:
    """Gray frames of copies of the two real clips (originals are never opened for writing)."""
    corpus = copy_grid_sample(tmp_path_factory.mktemp("grid_roi"))
    return {name: read_video_frames(corpus / rel) for name, rel in CLIPS.items()}


@pytest.fixture(scope="module")
def grid_detections(grid_frames) -> dict[str, list]:
    return {name: detect_faces(frames) for name, frames in grid_frames.items()}


@pytest.fixture(scope="module")
def grid_rois(grid_frames, grid_detections):
    return {
        name: extract_mouth_rois(frames, crop_size=44, detections=grid_detections[name])
        for name, frames in grid_frames.items()
    }


def test_face_detected_in_almost_every_frame(grid_frames, grid_rois):
    for name, roi in grid_rois.items():
        assert roi.source == "haar"
        assert roi.detected.dtype == bool and roi.detected.shape == (75,)
        assert roi.face_fraction >= 0.95, f"{name}: face found in only {roi.face_fraction:.0%} of frames"


def test_crop_shapes_and_boxes(grid_frames, grid_rois):
    for name, roi in grid_rois.items():
        assert roi.crops.shape == (75, 44, 44) and roi.crops.dtype == np.uint8
        assert roi.boxes.shape == (75, 4) and roi.face_boxes.shape == (75, 4)
        # The mouth box lies in the lower half of the face box, horizontally inside it.
        fx, fy, fw, fh = roi.face_boxes.T
        mx, my, mw, mh = roi.boxes.T
        assert np.all(my + mh / 2 > fy + 0.6 * fh) and np.all(mx >= fx) and np.all(mx + mw <= fx + fw)
        # A face that does not move much gives a steady box: smoothing leaves < 3 px frame-to-frame steps.
        assert np.abs(np.diff(roi.boxes[:, :2], axis=0)).max() < 3.0


def test_crop_is_centred_on_the_lips(grid_rois):
    """The lip line (the darkest row of the central columns: mouth opening / lip shadow) lies near the
    crop centre on average, and the mouth's dark mass is horizontally centred."""
    for name, roi in grid_rois.items():
        crops = roi.crops.astype(np.float64)
        size = crops.shape[1]
        central = crops[:, :, size // 4 : 3 * size // 4]
        darkest_row = central.mean(axis=2).argmin(axis=1)
        assert abs(darkest_row.mean() / size - 0.5) < 0.12, f"{name}: lip line at {darkest_row.mean() / size:.2f} of the crop"
        # The lip row is clearly darker than the crop's top and bottom (nose, chin): a mouth, not skin.
        rows = central.mean(axis=2).mean(axis=0)
        assert rows.min() < min(rows[:5].mean(), rows[-5:].mean()) - 15
        band = crops[:, size // 4 : 3 * size // 4, :].mean(axis=1)
        darkness = band.max(axis=1, keepdims=True) - band
        centroid = (darkness * np.arange(size)).sum(axis=1) / darkness.sum(axis=1)
        assert abs(centroid.mean() / size - 0.5) < 0.08, f"{name}: mouth centroid at x={centroid.mean() / size:.2f}"


def test_blanked_frames_are_filled_from_neighbours(grid_frames, grid_rois):
    frames = grid_frames["s1/bbaf2n"].copy()
    blank = np.arange(30, 40)
    frames[blank] = 0
    roi = extract_mouth_rois(frames)
    assert roi.source == "haar"
    assert not roi.detected[blank].any()
    assert roi.detected[np.setdiff1d(np.arange(75), blank)].mean() >= 0.95
    assert roi.crops.shape == (75, 44, 44)
    # Boxes in the gap are interpolated from the neighbours: close to what the intact clip gave.
    reference = grid_rois["s1/bbaf2n"].boxes
    assert np.abs(roi.boxes[blank] - reference[blank]).max() < 0.1 * reference[:, 2].mean()
    assert (roi.crops[blank] == 0).all()  # the crop of a black frame is black: nothing invented


def test_detecting_every_fourth_frame_keeps_the_track(grid_frames, grid_rois):
    """Stage 3's speed-up: the detector runs on frames 0, 4, 8, ... and the last; the smoother fills
    the rest. The hit rate counts only the frames looked at, and boxes stay within a few pixels."""
    frames = grid_frames["s1/bbaf2n"]
    detections = detect_faces(frames, detect_every=4)
    looked_at = [i for i, d in enumerate(detections) if d is not None]
    assert looked_at == list(range(0, 75, 4)) + [74]
    roi = extract_mouth_rois(frames, detections=detections, detect_every=4)
    assert roi.source == "haar" and roi.face_fraction == 1.0
    reference = grid_rois["s1/bbaf2n"].boxes
    assert np.abs(roi.boxes - reference).max() < 0.1 * reference[:, 2].mean()


def test_no_face_uses_known_boxes_then_centre_default(grid_frames):
    blank = np.zeros((6, 96, 96), np.uint8)
    default = extract_mouth_rois(blank, crop_size=32)
    assert default.source == "centre_default" and default.used_fallback
    assert default.face_fraction == 0.0 and not default.detected.any()
    assert default.crops.shape == (6, 32, 32)
    known = [(20, 10, 56, 60)] * 6
    hinted = extract_mouth_rois(blank, crop_size=32, known_face_boxes=known)
    assert hinted.source == "known_face_boxes"
    np.testing.assert_allclose(hinted.boxes, mouth_boxes_from_faces(np.array(known, float)), atol=1e-4)
    # When Haar does find the face, the hint is not used.
    real = extract_mouth_rois(grid_frames["id2/swwp2s"][:8], known_face_boxes=(0, 0, 50, 50))
    assert real.source == "haar" and real.face_fraction == 1.0


def test_largest_consistent_face_wins_over_a_decoy(grid_frames):
    frames = grid_frames["s1/bbaf2n"][:6].copy()
    for i in range(len(frames)):  # paste a half-size copy of the face into the top-left corner
        frames[i, :105, :105] = cv2.resize(frames[i, 60:270, 50:260], (105, 105), interpolation=cv2.INTER_AREA)
    boxes = detect_faces(frames)
    assert all(b is not None and b[2] > 120 and b[0] > 60 for b in boxes), boxes


def test_zigzag_matches_jpeg_order():
    rows, cols = zigzag_indices(8)
    expected = [(0, 0), (0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 1), (3, 0)]
    assert list(zip(rows[:10].tolist(), cols[:10].tolist())) == expected
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 64 and (rows[-1], cols[-1]) == (7, 7)


def test_dct_features_shape_determinism_and_content(grid_rois):
    crops = grid_rois["s1/bbaf2n"].crops
    feats = roi_dct_features(crops, num_coeffs=64)
    assert feats.shape == (75, 64) and feats.dtype == np.float32
    np.testing.assert_array_equal(feats, roi_dct_features(crops.copy(), num_coeffs=64))
    # Per-clip mean normalisation: every coefficient has zero mean over the clip.
    np.testing.assert_allclose(feats.mean(axis=0), 0.0, atol=1e-5)
    # The mouth moves while speaking: features vary over time, most of all in the speech frames.
    energy = (feats ** 2).sum(axis=1)
    assert energy[25:55].mean() > energy[:15].mean()
    # A constant image has only a DC coefficient.
    flat = roi_dct_features(np.full((2, 16, 16), 100, np.uint8), num_coeffs=10, mean_normalise=False)
    assert flat[0, 0] == pytest.approx(100 / 255 * 16, rel=1e-5) and np.abs(flat[:, 1:]).max() < 1e-6


def test_contact_sheet_is_written(tmp_path, grid_rois):
    crops = [roi.crops[i] for roi in grid_rois.values() for i in range(0, 75, 15)]
    labels = [f"{name} {i}" for name in grid_rois for i in range(0, 75, 15)]
    out = write_contact_sheet(crops, labels, tmp_path / "sheet.png", num_cols=5, cell_size=64, title="test")
    image = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
    assert image is not None and image.shape[1] == 5 * (64 + 4) + 4
    assert image.shape[0] > 2 * 64 and list(tmp_path.iterdir()) == [out]
