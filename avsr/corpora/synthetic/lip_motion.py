"""Mouth-parameter trajectories for the synthetic face renderer: phone timeline -> lip shapes.

Without :class:`TalkerDynamics` (the renderer before issue 13) the mouth targets sit at the
audio's own phone centres, so the video is a near-oracle copy of the audio timeline. With it,
the lips move the way real talkers' do relative to their voice:

- **lead**: visible articulation precedes the acoustics (the lips close for /b/ and round for
  /u/ before the sound; audio-visual speech studies put the lead at roughly 40-120 ms). Every
  target is shifted earlier by a per-utterance lead drawn around a per-speaker mean, plus a small
  per-phone timing scatter, so the offset varies within and between talkers;
- **anticipatory coarticulation**: consonants take on the lip rounding/spreading (and, for
  tongue consonants, part of the jaw opening) of the next vowel, fading with the time to it
  ("s" in "soon" is rounded, in "see" spread);
- **utterance onset and release**: the lips rest until shortly before the first target and
  relax soon after the last one, instead of drifting over the whole leading/trailing pause;
- **per-speaker articulation strength and inertia**: hypo- vs hyper-articulators (an extra
  gain on the excursions) and sluggish vs crisp lips (the smoothing time constant).

Everything is drawn from the speaker's and the utterance's seeds (deterministic); the random
draws of the old path are left untouched, so head motion, lighting and token jitter of an
utterance are the same with and without dynamics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from avsr.data.types import Segment
from avsr.corpora.synthetic.visemes import MOUTH_PARAMS, is_silence, phone_targets, phone_visemes, viseme_shape

_STOPS = {"p", "b", "t", "d", "k", "g", "tS", "dZ"}
_P = {name: i for i, name in enumerate(MOUTH_PARAMS)}
_VOWELS = frozenset({"ROUND", "OROUND", "OPEN", "EH", "SPREAD", "MID"})
# How much a consonant's lips follow the next vowel's rounding/width (lips free: 1; already
# rounded or protruded consonants: little), and its jaw opening (only tongue consonants).
_ANTICIPATE_SHAPE = {"BMP": 0.8, "FV": 0.6, "TH": 1.0, "ALV": 1.0, "VEL": 1.0, "POST": 0.3, "R": 0.3, "W": 0.2}
_ANTICIPATE_OPEN = {"TH": 0.35, "ALV": 0.35, "VEL": 0.35}
_ANTICIPATION_SPAN_S = 0.2   # the pull of the next vowel (keyframe to keyframe) decays with this time constant
_MAX_ANTICIPATION_S = 0.4    # vowels further ahead than this do not pull


@dataclass(frozen=True)
class TalkerDynamics:
    """A speaker's lip-timing and articulation habits (see the module docstring)."""

    lead_s: float            # mean lead of the lips over the audio
    lead_sd_s: float         # utterance-to-utterance spread of the lead
    lead_min_s: float        # the lead is kept inside [lead_min_s, lead_max_s]
    lead_max_s: float
    phone_jitter_s: float    # per-phone timing scatter of the lip targets (std)
    anticipation: float      # strength of anticipatory coarticulation, 0..1
    inertia_s: float         # smoothing time constant of the lips (replaces the fixed 12 ms)
    articulation: float      # extra articulation gain (multiplies FaceStyle.articulation)
    onset_s: float           # the lips leave the rest shape this long before the first target
    release_s: float         # and are back at rest this long after the last one

    def utterance_lead(self, rng: np.random.Generator) -> float:
        """The lead of one utterance (seconds)."""
        return float(np.clip(rng.normal(self.lead_s, self.lead_sd_s), self.lead_min_s, self.lead_max_s))


def sample_talker_dynamics(rng: np.random.Generator, lead_min_s: float = 0.04, lead_max_s: float = 0.12) -> TalkerDynamics:
    """Draw one speaker's dynamics; the mean lead is uniform in the range, utterances scatter
    around it by 15 % of the range."""
    u = rng.uniform
    span = lead_max_s - lead_min_s
    return TalkerDynamics(
        lead_s=u(lead_min_s, lead_max_s) if span > 0 else lead_min_s,
        lead_sd_s=0.15 * span,
        lead_min_s=lead_min_s,
        lead_max_s=lead_max_s,
        phone_jitter_s=u(0.005, 0.015),
        anticipation=u(0.3, 0.8),
        inertia_s=u(0.010, 0.024),
        articulation=float(np.clip(np.exp(rng.normal(0.0, 0.12)), 0.75, 1.3)),
        onset_s=u(0.12, 0.25),
        release_s=u(0.10, 0.20),
    )


def _anticipate(times: list[float], shapes: list[np.ndarray], kinds: list[str], strength: float) -> None:
    """Pull each consonant keyframe's lip shape towards the next vowel (in place); a pause in
    between stops the pull."""
    order = sorted(range(len(times)), key=lambda i: times[i])
    next_vowel: Optional[int] = None
    for i in reversed(order):
        kind = kinds[i]
        if kind in _VOWELS:
            next_vowel = i
            continue
        if kind == "SIL":
            next_vowel = None
            continue
        if next_vowel is None or kind not in _ANTICIPATE_SHAPE:
            continue
        gap = times[next_vowel] - times[i]
        if gap > _MAX_ANTICIPATION_S:
            continue
        w = strength * math.exp(-max(gap, 0.0) / _ANTICIPATION_SPAN_S)
        s, v = shapes[i].copy(), shapes[next_vowel]
        for p in ("round", "width"):
            s[_P[p]] += w * _ANTICIPATE_SHAPE[kind] * (v[_P[p]] - s[_P[p]])
        if kind in _ANTICIPATE_OPEN and v[_P["open"]] > s[_P["open"]]:
            s[_P["open"]] += w * _ANTICIPATE_OPEN[kind] * (v[_P["open"]] - s[_P["open"]])
        shapes[i] = s


def _keyframes(phones: Sequence[Segment], words: Sequence[Segment], duration: float,
               rng: np.random.Generator, articulation: float,
               dynamics: Optional[TalkerDynamics] = None, lead_s: float = 0.0,
               rng_dyn: Optional[np.random.Generator] = None) -> tuple[np.ndarray, np.ndarray]:
    """Target keyframes (times [K], params [K, N_PARAMS]) from the phone and word timelines."""
    times: list[float] = []
    shapes: list[np.ndarray] = []
    kinds: list[str] = []
    sil = viseme_shape("SIL")
    dyn = dynamics is not None
    if dyn and rng_dyn is None:
        raise ValueError("dynamics need their own random generator (rng_dyn)")

    def add(t: float, shape: np.ndarray, kind: str = "SIL") -> None:
        times.append(float(t))
        shapes.append(shape)
        kinds.append(kind)

    def jitter(shape: np.ndarray) -> np.ndarray:
        # Token-to-token variability: the same phone never looks exactly the same twice.
        s = shape.copy()
        s[_P["open"]] += rng.normal(0.0, 0.035)
        s[_P["width"]] += rng.normal(0.0, 0.025)
        s[_P["round"]] += rng.normal(0.0, 0.04)
        return s

    def shift() -> float:
        # Lips ahead of the audio: the utterance lead plus a little per-phone scatter.
        if not dyn:
            return 0.0
        sd = dynamics.phone_jitter_s
        return -lead_s + float(np.clip(rng_dyn.normal(0.0, sd), -2.0 * sd, 2.0 * sd))

    add(0.0, sil)
    speech = [p for p in phones if not is_silence(p.symbol)]
    for ph in phones:
        dur = max(ph.end - ph.start, 1e-3)
        if is_silence(ph.symbol):
            # Long pauses relax to the closed rest shape and hold it.
            if dur > 0.16:
                add(ph.start + 0.08 - (lead_s if dyn else 0.0), sil)
                add(ph.end - 0.08 - (lead_s if dyn else 0.0), sil)
            else:
                add(0.5 * (ph.start + ph.end) - (lead_s if dyn else 0.0), sil)
            continue
        visemes = phone_visemes(ph.symbol)
        targets = [jitter(t) for t in phone_targets(ph.symbol)]
        dt = shift()
        if len(targets) == 2:                              # diphthong: onset → offset
            add(ph.start + 0.3 * dur + dt, targets[0], visemes[0])
            add(ph.start + 0.85 * dur + dt, targets[1], visemes[1])
        elif visemes[0] == "BMP":
            # Hold the complete closure for ≥ one frame period so a 25 fps sample lands inside it.
            half = max(0.3 * dur, 0.022)
            centre = 0.5 * (ph.start + ph.end) + dt
            add(centre - half, targets[0], "BMP")
            add(centre + half, targets[0], "BMP")
        else:
            add(0.5 * (ph.start + ph.end) + dt, targets[0], visemes[0])
    # A word-initial stop has no phoneme event for its closure: close from the word onset.
    for w in words:
        first = next((p for p in phones if p.start >= w.start - 1e-3 and p.start < w.end), None)
        if first is None:
            continue
        sym = "".join(c for c in first.symbol if c not in "',%=")
        if sym.rstrip("#[") in _STOPS and first.start - w.start > 0.015:
            add(min(w.start + 0.05, first.start) - (lead_s if dyn else 0.0), phone_targets(sym)[0],
                phone_visemes(sym)[0])
    end_t = max([duration] + [p.end for p in phones])
    if not phones or phones[-1].end < duration - 0.02 or is_silence(phones[-1].symbol):
        add(end_t, sil)
    if dyn and speech:
        # Rest until shortly before the first target, and relax soon after the last one.
        targets_t = [t for t, k in zip(times, kinds) if k != "SIL"]
        first_t, last_t = min(targets_t), max(targets_t)
        if first_t - dynamics.onset_s > 0.0:
            add(first_t - dynamics.onset_s, sil)
        if last_t + dynamics.release_s < end_t:
            add(last_t + dynamics.release_s, sil)
        _anticipate(times, shapes, kinds, dynamics.anticipation)
    order = np.argsort(np.asarray(times), kind="stable")
    t = np.asarray(times)[order]
    s = np.stack(shapes)[order]
    # Speaker articulation strength scales the excursion from rest (wider/narrower/more rounded).
    a = articulation * (dynamics.articulation if dyn else 1.0)
    s[:, _P["open"]] = np.where(s[:, _P["open"]] > 0, s[:, _P["open"]] * a, s[:, _P["open"]])
    s[:, _P["width"]] = 1.0 + (s[:, _P["width"]] - 1.0) * a
    s[:, _P["round"]] = np.clip(s[:, _P["round"]] * a, 0.0, 1.0)
    return t, s


def mouth_trajectory(phones: Sequence[Segment], words: Sequence[Segment], duration: float,
                     n_frames: int, fps: float, rng: np.random.Generator,
                     articulation: float = 1.0, smooth_s: float = 0.012,
                     dynamics: Optional[TalkerDynamics] = None, lead_s: float = 0.0,
                     rng_dyn: Optional[np.random.Generator] = None) -> np.ndarray:
    """Mouth parameters [n_frames, N_PARAMS] at the frame centres.

    Targets are cosine-interpolated on a 4 ms grid, then smoothed with a zero-phase Gaussian
    (``smooth_s``, or the speaker's inertia with ``dynamics``; muscle inertia and camera
    exposure), so short phones undershoot their target a little while held ones (bilabial
    closures) still reach it. ``dynamics``/``lead_s``/``rng_dyn``: see the module docstring.
    """
    kt, ks = _keyframes(phones, words, duration, rng, articulation, dynamics, lead_s, rng_dyn)
    if dynamics is not None:
        smooth_s = dynamics.inertia_s
    step = 0.004
    pad = 4.0 * smooth_s
    grid = np.arange(min(-pad, float(kt[0]) - pad), max(duration, n_frames / fps) + pad + step, step)
    idx = np.clip(np.searchsorted(kt, grid, side="right") - 1, 0, len(kt) - 1)
    nxt = np.minimum(idx + 1, len(kt) - 1)
    span = kt[nxt] - kt[idx]
    frac = np.clip(np.where(span > 1e-9, (grid - kt[idx]) / np.maximum(span, 1e-9), 0.0), 0.0, 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * frac)
    fine = ks[idx] * (1.0 - w[:, None]) + ks[nxt] * w[:, None]
    if smooth_s > 0:
        half = int(math.ceil(3.0 * smooth_s / step))
        kern = np.exp(-0.5 * (np.arange(-half, half + 1) * step / smooth_s) ** 2)
        kern /= kern.sum()
        padded = np.pad(fine, ((half, half), (0, 0)), mode="edge")
        fine = np.stack([np.convolve(padded[:, j], kern, mode="valid") for j in range(fine.shape[1])], 1)
    ft = (np.arange(n_frames) + 0.5) / fps
    return np.stack([np.interp(ft, grid, fine[:, j]) for j in range(fine.shape[1])], 1)
