"""Temporal resampling of video frames to the models' frame rate.

Every model and feature pipeline of the package reads video at 25 fps (a 40 ms frame shift);
stage 3 brings any source rate (30, 29.97, 50 fps ...) there, so a corpus at another rate is
neither rejected nor silently mis-timed.

Frames are treated as samples at their centres, ``(i + 0.5) / fps``, as everywhere else in the
package. Each output frame is the mean, over its own interval ``[k, k + 1) / dst``, of the linear
interpolation between source frames: a linear interpolant with a box prefilter (an exposure of one
output frame), so lowering the rate does not alias (50 -> 25 fps weighs four neighbours
1:7:7:1 / 16) and raising it is plain linear interpolation, while a movement that is linear in
time keeps its exact timing. An output frame count of ``round(n * dst / src)`` keeps the span.
"""
from __future__ import annotations

import numpy as np

RATE_TOLERANCE = 1e-6  # relative: rates this close are the same (no resampling, frames returned as they are)


def same_rate(src_fps: float, dst_fps: float) -> bool:
    return abs(src_fps - dst_fps) <= RATE_TOLERANCE * dst_fps


def resampled_length(num_frames: int, src_fps: float, dst_fps: float) -> int:
    return num_frames if same_rate(src_fps, dst_fps) else max(1, int(round(num_frames * dst_fps / src_fps)))


def resampling_matrix(num_frames: int, src_fps: float, dst_fps: float, subsamples: int = 16) -> np.ndarray:
    """Weights [n_out, num_frames] (rows sum to 1) that map source frames to output frames."""
    if num_frames < 1:
        raise ValueError("no frames to resample")
    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"frame rates must be positive, got {src_fps} -> {dst_fps}")
    n_out = resampled_length(num_frames, src_fps, dst_fps)
    # ``subsamples`` times per output frame, evenly inside its interval, in source-frame units.
    t = (np.arange(n_out)[:, None] + (np.arange(subsamples)[None, :] + 0.5) / subsamples) / dst_fps
    pos = np.clip(t * src_fps - 0.5, 0.0, num_frames - 1)
    left = np.floor(pos).astype(int)
    right = np.minimum(left + 1, num_frames - 1)
    frac = pos - left
    weights = np.zeros((n_out, num_frames))
    rows = np.repeat(np.arange(n_out), subsamples)
    np.add.at(weights, (rows, left.ravel()), (1.0 - frac).ravel() / subsamples)
    np.add.at(weights, (rows, right.ravel()), frac.ravel() / subsamples)
    return weights


def resample_frames(frames: np.ndarray, src_fps: float, dst_fps: float = 25.0) -> np.ndarray:
    """``frames`` [T, ...] at ``src_fps`` -> [round(T * dst / src), ...] at ``dst_fps``, same dtype
    (integers rounded). The same rate returns ``frames`` itself."""
    if same_rate(src_fps, dst_fps):
        return frames
    weights = resampling_matrix(len(frames), src_fps, dst_fps)
    flat = frames.reshape(len(frames), -1).astype(np.float64)
    out = (weights @ flat).reshape((weights.shape[0],) + frames.shape[1:])
    if np.issubdtype(frames.dtype, np.integer):
        info = np.iinfo(frames.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(frames.dtype)
