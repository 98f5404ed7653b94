"""Synthetic talking-face renderer: shapes, determinism, viseme behaviour, Haar face detection."""
from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from avsr.data.types import Segment
from avsr.corpora.synthetic.render import mouth_box, mouth_trajectory, render_face_video, sample_face_style
from avsr.corpora.synthetic.visemes import MOUTH_PARAMS, N_PARAMS, VISEME_SHAPES, phone_visemes

# The espeak inventory seen for GRID (deps.md), stress marks stripped.
ESPEAK_PHONES = ("_ _: ; p b m f v T D t d n s z l t# t[ tS dZ j k g r r- w w# u: oU 0 O@ a a# V "
                 "i: I E eI @ aI aI2 aU A@ i@ o@ h S Z N 3: U e@").split()


def _styles(n: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    return [sample_face_style(rng) for _ in range(n)]


def _held(phone: str, style, seed: int):
    """A 1.2 s clip: pause, ``phone`` held from 0.4 to 0.8 s, pause (frame 15 is its centre)."""
    phones = [Segment("_", 0.0, 0.4), Segment(phone, 0.4, 0.8), Segment("_", 0.8, 1.2)]
    return render_face_video(phones, [Segment("w", 0.4, 0.8)], 1.2, style, seed=seed)


def _mouth(frames: np.ndarray, boxes: np.ndarray, k: int) -> np.ndarray:
    """Mouth crop of frame k from the true face box, resized to a fixed 40×24."""
    x, y, w, h = mouth_box(boxes[k])
    return cv2.resize(frames[k, y:y + h, x:x + w], (40, 24), interpolation=cv2.INTER_AREA).astype(np.float64)


def _dark_fraction(crop: np.ndarray) -> float:
    """Share of mouth-region pixels much darker than the surrounding skin (the open mouth interior)."""
    return float((crop < 0.5 * np.median(crop)).mean())


def _sentence():
    seq = [("_", 0.0, 0.3), ("b", 0.32, 0.38), ("I", 0.38, 0.48), ("n", 0.48, 0.55), ("g", 0.58, 0.63),
           ("r", 0.63, 0.7), ("i:", 0.7, 0.85), ("n", 0.85, 0.92), ("w", 0.92, 0.98), ("I", 0.98, 1.05),
           ("D", 1.05, 1.12), ("z", 1.12, 1.2), ("i:", 1.2, 1.35), ("f", 1.35, 1.45), ("aI", 1.45, 1.65),
           ("v", 1.65, 1.72), ("n", 1.72, 1.8), ("aU", 1.8, 2.05), ("_", 2.05, 2.4)]
    words = [("bin", 0.3, 0.55), ("green", 0.55, 0.92), ("with", 0.92, 1.12), ("z", 1.12, 1.35),
             ("five", 1.35, 1.72), ("now", 1.72, 2.05)]
    return [Segment(*s) for s in seq], [Segment(*w) for w in words]


def test_viseme_table_covers_espeak_inventory(caplog):
    with caplog.at_level(logging.WARNING):
        for ph in ESPEAK_PHONES:
            vis = phone_visemes(ph)
            assert 1 <= len(vis) <= 2 and all(v in VISEME_SHAPES for v in vis)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert phone_visemes("p") == phone_visemes("b") == phone_visemes("m") == ("BMP",)
    assert phone_visemes("'aI") == ("OPEN", "SPREAD")          # diphthong, stress mark tolerated
    assert phone_visemes("_:") == ("SIL",)
    assert all(len(v) == N_PARAMS == len(MOUTH_PARAMS) for v in VISEME_SHAPES.values())


def test_unknown_phone_is_neutral_with_warning(caplog):
    with caplog.at_level(logging.WARNING):
        assert phone_visemes("Qx!") == ("MID",)
    assert any("Qx!" in r.getMessage() for r in caplog.records)
    phones = [Segment("Qx!", 0.0, 0.3), Segment("a", 0.3, 0.5)]
    frames, _ = render_face_video(phones, [], 0.5, _styles(1)[0], seed=0)
    assert frames.shape[0] == 12


@pytest.mark.parametrize("duration,fps,size", [(2.4, 25, 128), (1.0, 30, 96), (0.02, 25, 128)])
def test_shapes_dtype_length(duration, fps, size):
    phones, words = _sentence()
    frames, boxes = render_face_video(phones, words, duration, _styles(1)[0], seed=3, fps=fps, size=size)
    t = int(round(duration * fps))
    assert frames.shape == (t, size, size) and frames.dtype == np.uint8
    assert boxes.shape == (t, 4) and np.issubdtype(boxes.dtype, np.integer)
    if t:
        assert (boxes[:, 2] > size // 3).all() and (boxes[:, :2] >= 0).all()
        assert frames.std() > 10                                # a face, not a flat image


def test_trajectory_coarticulation():
    """Short bilabials close completely; word-initial stops close from the word onset; diphthongs move."""
    open_i, width_i = MOUTH_PARAMS.index("open"), MOUTH_PARAMS.index("width")
    rng = np.random.default_rng(0)
    for offset in np.linspace(0.0, 0.04, 5):                 # any phase relative to the 25 fps grid
        phones = [Segment("_", 0, 0.3 + offset), Segment("a", 0.3 + offset, 0.45 + offset),
                  Segment("p", 0.45 + offset, 0.49 + offset), Segment("a", 0.49 + offset, 0.65 + offset),
                  Segment("_", 0.65 + offset, 1.0)]
        traj = mouth_trajectory(phones, [], 1.0, 25, 25, rng)
        assert traj[:, open_i].max() > 0.6 and traj[9:15, open_i].min() <= 0.0
    # "bin" whose b event comes 0.12 s after the word event: lips already closed in between.
    phones = [Segment("_", 0, 0.5), Segment("b", 0.62, 0.66), Segment("I", 0.66, 0.8), Segment("n", 0.8, 0.9),
              Segment("_", 0.9, 1.2)]
    with_word = mouth_trajectory(phones, [Segment("bin", 0.5, 0.9)], 1.2, 30, 25, np.random.default_rng(1))
    assert with_word[14, open_i] <= 0.0                      # t = 0.58 s, before the b event
    # aI: open onset, spread offset.
    phones = [Segment("_", 0, 0.3), Segment("aI", 0.3, 0.7), Segment("_", 0.7, 1.2)]
    traj = mouth_trajectory(phones, [], 1.2, 30, 25, np.random.default_rng(2))
    onset, offset = traj[10], traj[16]                       # 0.42 s and 0.66 s
    assert onset[open_i] > offset[open_i] + 0.3 and offset[width_i] > onset[width_i] + 0.1


def test_deterministic_given_seed():
    phones, words = _sentence()
    style = _styles(1)[0]
    a, ba = render_face_video(phones, words, 2.4, style, seed=11)
    b, bb = render_face_video(phones, words, 2.4, style, seed=11)
    c, _ = render_face_video(phones, words, 2.4, style, seed=12)
    assert np.array_equal(a, b) and np.array_equal(ba, bb)
    assert not np.array_equal(a, c)


def test_bilabials_close_and_open_vowels_open():
    for i, style in enumerate(_styles(3)):
        closed = [_dark_fraction(_mouth(*_held(ph, style, seed=10 * i + j), 15)) for j, ph in enumerate("pbm")]
        opened = _dark_fraction(_mouth(*_held("a", style, seed=10 * i + 5), 15))
        rest = _dark_fraction(_mouth(*_held("a", style, seed=10 * i + 6), 3))  # leading pause
        assert max(closed) < 0.05 and rest < 0.05, (closed, rest)
        assert opened > 0.04 and opened > 3 * max(closed) + 0.02, (opened, closed)


def test_p_b_m_alike_while_a_and_u_differ():
    for i, style in enumerate(_styles(2, seed=3)):
        def mean_crop(ph: str, seed: int) -> np.ndarray:
            frames, boxes = _held(ph, style, seed)
            return np.mean([_mouth(frames, boxes, k) for k in range(13, 18)], axis=0)

        def dist(x: np.ndarray, y: np.ndarray) -> float:
            return float(np.sqrt(((x - y) ** 2).mean()))

        p1, p2 = mean_crop("p", 1), mean_crop("p", 2)
        within = dist(p1, p2)                                    # same phone, another token
        assert dist(p1, mean_crop("b", 2)) < 1.5 * within + 2.0
        assert dist(p1, mean_crop("m", 3)) < 1.5 * within + 2.0
        assert dist(mean_crop("a", 1), mean_crop("u:", 2)) > 2.0 * within + 5.0


def test_haar_cascade_detects_rendered_faces():
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    assert not cascade.empty()
    phones, words = _sentence()
    for i, style in enumerate(_styles(3, seed=21)):
        frames, boxes = render_face_video(phones, words, 2.4, style, seed=i)
        hits = 0
        for k in range(0, len(frames), 2):
            found = cascade.detectMultiScale(frames[k], scaleFactor=1.1, minNeighbors=4, minSize=(40, 40))
            if len(found):
                # The detection must be on the face: its centre inside the true face box.
                fx, fy, fw, fh = max(found, key=lambda r: r[2] * r[3])
                x, y, w, h = boxes[k]
                hits += x <= fx + fw / 2 <= x + w and y <= fy + fh / 2 <= y + h
        rate = hits / len(range(0, len(frames), 2))
        assert rate >= 0.8, f"style {i}: Haar detected the face in {rate:.0%} of frames"


# ---- lip dynamics (issue 13: lips lead the audio, anticipation, per-speaker habits) -------------

def _dynamics(lead: float = 0.08, anticipation: float = 0.6):
    from dataclasses import replace

    from avsr.corpora.synthetic.lip_motion import sample_talker_dynamics

    dyn = sample_talker_dynamics(np.random.default_rng(4))
    # No per-phone scatter and a fixed inertia: the tests measure the lead itself.
    return replace(dyn, phone_jitter_s=0.0, inertia_s=0.012, articulation=1.0, anticipation=anticipation), lead


def test_lips_lead_the_audio_by_the_utterance_lead():
    phones, words = _sentence()
    fps = 250  # fine time grid: the lag is measured to 4 ms
    n = int(2.4 * fps)
    base = mouth_trajectory(phones, words, 2.4, n, fps, np.random.default_rng(5))
    for lead in (0.04, 0.08, 0.12):
        dyn, _ = _dynamics(lead, anticipation=0.0)
        lagged = mouth_trajectory(phones, words, 2.4, n, fps, np.random.default_rng(5), dynamics=dyn, lead_s=lead,
                                  rng_dyn=np.random.default_rng(6))
        open_i = MOUTH_PARAMS.index("open")
        a, b = base[:, open_i] - base[:, open_i].mean(), lagged[:, open_i] - lagged[:, open_i].mean()
        lags = np.arange(0, 60)  # video earlier than audio by k / fps seconds
        corr = [float(np.dot(a[k:], b[: n - k])) for k in lags]
        assert abs(lags[int(np.argmax(corr))] / fps - lead) <= 0.012, (lead, lags[int(np.argmax(corr))] / fps)


def test_anticipatory_rounding_before_a_rounded_vowel():
    # "s" before "u:" (soon) is rounded, before "i:" (see) it is not.
    round_i = MOUTH_PARAMS.index("round")
    dyn, lead = _dynamics(0.0, anticipation=0.8)

    def s_round(vowel: str, dynamics) -> float:
        phones = [Segment("_", 0.0, 0.4), Segment("s", 0.4, 0.52), Segment(vowel, 0.52, 0.75), Segment("_", 0.75, 1.2)]
        kw = {"dynamics": dynamics, "lead_s": 0.0, "rng_dyn": np.random.default_rng(1)} if dynamics else {}
        traj = mouth_trajectory(phones, [], 1.2, 120, 100, np.random.default_rng(2), **kw)
        return float(traj[46, round_i])  # the middle of "s"

    assert s_round("u:", dyn) > s_round("i:", dyn) + 0.2
    assert s_round("u:", dyn) > s_round("u:", None) + 0.15


def test_dynamics_change_only_the_lips_and_are_deterministic():
    phones, words = _sentence()
    style = _styles(1)[0]
    dyn, lead = _dynamics()
    plain, boxes = render_face_video(phones, words, 2.4, style, seed=11)
    a, ba = render_face_video(phones, words, 2.4, style, seed=11, dynamics=dyn, lip_lead_s=lead)
    b, bb = render_face_video(phones, words, 2.4, style, seed=11, dynamics=dyn, lip_lead_s=lead)
    assert np.array_equal(a, b) and np.array_equal(ba, bb)
    # Head motion, lighting and noise come from the same draws: same boxes, same upper face.
    assert np.array_equal(boxes, ba) and not np.array_equal(plain, a)
    x, y, w, h = boxes[20]
    assert np.array_equal(plain[20, y : y + h // 3], a[20, y : y + h // 3])


def test_talker_dynamics_sampling_respects_the_lead_range():
    from avsr.corpora.synthetic.lip_motion import sample_talker_dynamics

    rng = np.random.default_rng(0)
    for _ in range(20):
        dyn = sample_talker_dynamics(rng, 0.04, 0.12)
        assert 0.04 <= dyn.lead_s <= 0.12
        leads = [dyn.utterance_lead(rng) for _ in range(50)]
        assert all(0.04 <= v <= 0.12 for v in leads) and np.std(leads) > 0
