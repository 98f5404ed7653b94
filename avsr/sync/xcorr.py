"""Baseline without learning: cross-correlation of lip-motion energy and audio energy.

Both signals are 25 fps: the audio's log energy (MFCC C0 / mean log-mel, averaged over the 4
audio frames of each video frame) and the lip-motion energy (mean squared frame-to-frame change
of the mouth region). Speech makes the lips move, so the two rise and fall together; the lag
with the highest normalised correlation is the offset. Signals are optionally smoothed and
differenced (``audio_signal: delta`` correlates the *change* of loudness with lip motion, which
peaks at onsets and offsets as motion does).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avsr.sync.streams import ClipStreams, lip_motion


@dataclass(frozen=True)
class XcorrConfig:
    audio_signal: str = "energy"  # energy | delta (absolute change of the energy)
    video_signal: str = "motion"  # motion (frame-difference energy) | opening (distance from the clip's mean mouth)
    smooth: int = 1  # moving-average width (frames) applied to both signals
    min_overlap: int = 20  # fewest overlapping frames a lag needs to be scored


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return x
    return np.convolve(x, np.ones(width) / width, mode="same")


def signals(clip: ClipStreams, cfg: XcorrConfig = XcorrConfig()) -> tuple[np.ndarray, np.ndarray]:
    """(audio signal [Tv], video signal [Tv]) of a clip."""
    a = clip.energy.astype(np.float64)
    if cfg.audio_signal == "delta":
        a = np.abs(np.diff(a, prepend=a[:1]))
    elif cfg.audio_signal != "energy":
        raise ValueError(f"unknown audio_signal {cfg.audio_signal!r} (energy | delta)")
    if cfg.video_signal == "motion":
        v = lip_motion(clip.video).astype(np.float64)
    elif cfg.video_signal == "opening":
        t, h, w = clip.video.shape
        mouth = clip.video[:, h // 4 : 3 * h // 4, w // 6 : 5 * w // 6]  # already minus the clip's mean crop
        v = np.abs(mouth).mean(axis=(1, 2)).astype(np.float64)
    else:
        raise ValueError(f"unknown video_signal {cfg.video_signal!r} (motion | opening)")
    return _smooth(a, cfg.smooth), _smooth(v, cfg.smooth)


def lagged_correlation(a: np.ndarray, v: np.ndarray, d: int, min_overlap: int) -> float:
    """Pearson correlation of a[t] with v[t + d] over the overlap (NaN if too short or flat)."""
    n = min(len(a), len(v))
    a, v = a[:n], v[:n]
    if d >= 0:
        x, y = a[: n - d], v[d:]
    else:
        x, y = a[-d:], v[: n + d]
    if len(x) < min_overlap:
        return float("nan")
    sx, sy = x.std(), y.std()
    if sx < 1e-9 or sy < 1e-9:
        return float("nan")
    return float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy))


def xcorr_curve(clip: ClipStreams, offsets, cfg: XcorrConfig = XcorrConfig()) -> np.ndarray:
    a, v = signals(clip, cfg)
    return np.array([lagged_correlation(a, v, int(d), cfg.min_overlap) for d in offsets])
