"""Video shifts: the one place where a cut's video arrays are moved in time.

Sign convention (used everywhere in :mod:`avsr.sync`): an offset of ``+k`` frames means the
video *lags* the audio by k frames (k × 40 ms at 25 fps): what the audio says at frame t the
lips show at frame t + k. :func:`shift_frames` with ``k`` produces exactly that delay, so
injecting an offset is ``shift_frames(video, k)`` and correcting an estimated offset ``d`` is
``shift_frames(video, -d)``. The array keeps its length (the first/last frame is repeated into
the gap), so every A/V length check and the cut's duration stay valid.

A correction is stored as an integer in the cut's custom field ``video_shift`` (frames; the
shift to apply on load, i.e. minus the estimated offset). Stored arrays are never rewritten:
every consumer of ``mouth_roi`` / ``roi_dct`` reads them through :func:`load_video_array`,
which applies the cut's shift. Shifts add up: a test that injects K and a QA stage that then
corrects by -d leave ``video_shift = K - d``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from lhotse.cut import Cut
from lhotse.utils import fastcopy

VIDEO_SHIFT_FIELD = "video_shift"
VIDEO_FPS = 25.0
FRAME_MS = 1000.0 / VIDEO_FPS


def shift_frames(frames: np.ndarray, k: int) -> np.ndarray:
    """``out[t] = frames[clip(t - k, 0, T - 1)]`` along axis 0: a video delayed by ``k`` frames
    (``k < 0``: advanced), edges repeated. ``k = 0`` returns the input unchanged (no copy)."""
    k = int(k)
    if k == 0 or len(frames) == 0:
        return frames
    idx = np.clip(np.arange(len(frames)) - k, 0, len(frames) - 1)
    return frames[idx]


def video_shift_of(cut: Cut) -> int:
    """The shift stored on a cut (0 if none); a MixedCut's is that of its speech track."""
    custom = cut.custom or {}
    if VIDEO_SHIFT_FIELD not in custom and hasattr(cut, "tracks"):
        custom = cut.tracks[0].cut.custom or {}
    return int(custom.get(VIDEO_SHIFT_FIELD, 0))


def with_video_shift(cut: Cut, shift: int) -> Cut:
    """A copy of the cut whose video arrays load shifted by ``shift`` frames in total (replaces
    any earlier shift; 0 removes the field)."""
    if hasattr(cut, "tracks"):  # a noisy mix: the video arrays live on the speech track
        tracks = [fastcopy(t, cut=with_video_shift(t.cut, shift)) if i == 0 else t for i, t in enumerate(cut.tracks)]
        return fastcopy(cut, tracks=tracks)
    custom = {k: v for k, v in (cut.custom or {}).items() if k != VIDEO_SHIFT_FIELD}
    if shift:
        custom[VIDEO_SHIFT_FIELD] = int(shift)
    return fastcopy(cut, custom=custom or None)


def add_video_shift(cut: Cut, extra: int) -> Cut:
    """Shift a cut's video by ``extra`` more frames (on top of what it already carries)."""
    return with_video_shift(cut, video_shift_of(cut) + int(extra))


def load_video_array(cut: Cut, name: str = "mouth_roi", extra_shift: int = 0, raw: bool = False) -> np.ndarray:
    """A cut's video array (``mouth_roi``, ``roi_dct`` or any 25 fps custom array) with the cut's
    stored ``video_shift`` (+ ``extra_shift``) applied. ``raw``: ignore the stored shift (the
    array exactly as stage 3 stored it)."""
    arr = cut.load_custom(name)
    return shift_frames(arr, (0 if raw else video_shift_of(cut)) + int(extra_shift))


def frames_to_ms(frames: Optional[float]) -> Optional[float]:
    return None if frames is None else float(frames) * FRAME_MS
