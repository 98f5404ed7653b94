"""Stage 3 brings video at any frame rate to the models' 25 fps (issue 13, item 7)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import soundfile as sf

from avsr.corpora.grid.grammar import grid_vocabulary
from avsr.corpora.synthetic.render import render_face_video, sample_face_style
from avsr.data.manifests import build_manifests
from avsr.data.types import Segment, UttRecord
from avsr.features.store import MODEL_VIDEO_FPS, VIDEO_FRAME_SHIFT, compute_video_features
from avsr.video.frame_rate import resample_frames, resampled_length, resampling_matrix
from avsr.video.io import probe_video, write_av_mp4


@pytest.mark.parametrize("src", [30.0, 30000 / 1001, 50.0, 24.0, 12.5])
def test_resampling_keeps_a_linear_timeline(src):
    # A frame's value is its centre time: any correct centre-aligned resampling keeps that (inside the clip).
    n = int(round(3.0 * src))
    frames = ((np.arange(n) + 0.5) / src)[:, None, None] * np.ones((1, 2, 3))
    out = resample_frames(frames, src, 25.0)
    assert out.shape == (resampled_length(n, src, 25.0), 2, 3) == (int(round(n * 25 / src)), 2, 3)
    centres = (np.arange(len(out)) + 0.5) / 25.0
    inner = slice(2, len(out) - 2)
    np.testing.assert_allclose(out[inner, 0, 0], centres[inner], atol=1e-9)
    np.testing.assert_allclose(resampling_matrix(n, src, 25.0).sum(1), 1.0)


def test_50_fps_weighs_neighbours_and_25_is_untouched():
    frames = np.random.default_rng(0).integers(0, 255, (50, 4, 4), dtype=np.uint8)
    out = resample_frames(frames, 50, 25)
    f = frames.astype(float)
    k = 10  # output frame 10 covers source frames 20, 21 (and a little of 19, 22)
    expected = (f[19] + 7 * f[20] + 7 * f[21] + f[22]) / 16
    np.testing.assert_allclose(out[k], np.rint(expected), atol=1)
    assert out.dtype == np.uint8 and len(out) == 25
    assert resample_frames(frames, 25, 25) is frames


def _utterance():
    seq = [("_", 0.0, 0.3), ("b", 0.32, 0.4), ("a", 0.4, 0.6), ("p", 0.6, 0.68), ("u:", 0.68, 0.95), ("m", 0.95, 1.05),
           ("aI", 1.05, 1.35), ("w", 1.35, 1.42), ("0", 1.42, 1.7), ("_", 1.7, 2.4)]
    return [Segment(*s) for s in seq], [Segment("bap", 0.32, 0.68), Segment("woo", 0.68, 1.7)]


def _clip(tmp_path, fps, style, seed=3):
    """A rendered face clip at ``fps`` with its wav: (record, true face boxes at the source rate)."""
    phones, words = _utterance()
    frames, boxes = render_face_video(phones, words, 2.4, style, seed=seed, fps=fps)
    duration = len(frames) / fps
    audio = (0.05 * np.random.default_rng(0).standard_normal(int(round(duration * 16000)))).astype(np.float32)
    name = f"s01_fps{str(fps).replace('.', 'p')}"
    wav, mp4 = tmp_path / f"{name}.wav", tmp_path / f"{name}.mp4"
    sf.write(wav, audio, 16000, subtype="PCM_16")
    write_av_mp4(mp4, frames, Fraction(30000, 1001) if abs(fps - 29.97) < 0.01 else fps, audio=audio)
    return UttRecord(name, "s01", str(wav), str(mp4), "bin blue at b two now", words=words), boxes


def _openness(crops: np.ndarray) -> np.ndarray:
    """Per frame: share of dark pixels in the mouth crop (the open mouth), standardised."""
    dark = (crops < 0.5 * np.median(crops, axis=(1, 2), keepdims=True)).mean(axis=(1, 2))
    return (dark - dark.mean()) / (dark.std() + 1e-9)


def test_stage3_brings_any_source_rate_to_25_fps(tmp_path):
    style = sample_face_style(np.random.default_rng(5))
    records, boxes = zip(*[_clip(tmp_path, fps, style) for fps in (25, 30, 30000 / 1001, 50)])
    assert [round(probe_video(r.video_path).fps, 2) for r in records] == [25, 30, 29.97, 50]
    _, _, cuts, bad = build_manifests(list(records), grid_vocabulary())
    assert not bad
    out, stats = compute_video_features(cuts, tmp_path / "video" / "v", haar={"detect_every": 6}, known_face_boxes={
        r.utt_id: [tuple(map(int, b)) for b in bx] for r, bx in zip(records, boxes)})
    by_id = {c.id: c for c in out}
    reference = None
    for rec, s in zip(records, stats):
        cut = by_id[rec.utt_id]
        crops = cut.load_mouth_roi()
        assert cut.mouth_roi.frame_shift == VIDEO_FRAME_SHIFT == 1 / MODEL_VIDEO_FPS
        assert abs(len(crops) * VIDEO_FRAME_SHIFT - cut.duration) <= 0.05, (rec.utt_id, len(crops), cut.duration)
        assert cut.custom["video_source_fps"] == pytest.approx(cut.recording.video.fps)
        assert cut.load_roi_dct().shape[0] == len(crops) == s["model_frames"]
        series = _openness(crops.astype(float))
        if reference is None:
            reference = series
            continue
        # Same mouth movements at the same times as the 25 fps rendering: best aligned at lag 0.
        n = min(len(series), len(reference))
        corr = {lag: float(np.mean(series[max(0, lag):n + min(0, lag)] * reference[max(0, -lag):n - max(0, lag)]))
                for lag in (-2, -1, 0, 1, 2)}
        assert corr[0] == max(corr.values()) and corr[0] > 0.7, (rec.utt_id, corr)


def test_implausible_frame_rate_is_a_bad_clip(tmp_path):
    from avsr.data.checks import check_record
    from avsr.utils.errors import AvsrInputError

    frames = np.full((6, 32, 32), 100, np.uint8)
    audio = np.zeros(48000, np.float32)
    sf.write(tmp_path / "a.wav", audio, 16000, subtype="PCM_16")
    write_av_mp4(tmp_path / "a.mp4", frames, 2, audio=audio)
    rec = UttRecord("a", "s1", str(tmp_path / "a.wav"), str(tmp_path / "a.mp4"), "bin blue at f two now")
    with pytest.raises(AvsrInputError, match="implausible frame rate 2 fps"):
        check_record(rec)
