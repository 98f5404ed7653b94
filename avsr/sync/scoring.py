"""Score curves of a clip over candidate offsets, for both methods (``learned`` | ``xcorr``).

The learned curve slides the audio against the video: every audio window is embedded once,
every video window once, and the score at offset d is the mean cosine of audio window t with
video window t + d over the clip (SyncNet averages its distances the same way).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from avsr.sync.estimate import CurveFn, diagonal_means
from avsr.sync.model import SyncNet
from avsr.sync.streams import ClipStreams
from avsr.sync.xcorr import XcorrConfig, xcorr_curve

METHODS = ("learned", "xcorr")


def strided_diagonal_means(sim: np.ndarray, video_index: np.ndarray, offsets: Sequence[int], min_count: int) -> np.ndarray:
    """Like :func:`diagonal_means` when only the video windows ``video_index`` were embedded:
    ``sim[t_a, j]`` is audio window t_a against video window ``video_index[j]``."""
    na = sim.shape[0]
    out = np.full(len(offsets), np.nan, np.float64)
    cols = np.arange(len(video_index))
    for i, d in enumerate(offsets):
        rows = video_index - int(d)
        ok = (rows >= 0) & (rows < na)
        if ok.sum() >= min_count:
            out[i] = float(sim[rows[ok], cols[ok]].mean())
    return out


def learned_curve_fn(model: SyncNet, offsets: Sequence[int], min_windows: int = 10, video_stride: int = 1,
                     chunk: int = 512) -> CurveFn:
    """``video_stride`` s > 1 embeds every s-th video window only (the video stream is ~90 % of the
    cost) against every audio window: each offset is still scored, on 1/s of the pairs."""
    device = next(model.parameters()).device

    @torch.no_grad()
    def curve(clip: ClipStreams) -> np.ndarray:
        if clip.num_frames < model.cfg.window:
            return np.full(len(offsets), np.nan)
        video = torch.from_numpy(clip.video).to(device)
        audio = torch.from_numpy(clip.audio).to(device)
        if video_stride <= 1:
            ea, ev = model.embed_clip(video, audio, chunk)
            return diagonal_means((ea @ ev.T).cpu().numpy(), offsets, min_windows)
        vw = model.video_windows(video)
        index = np.arange(0, len(vw), video_stride)
        ev = model.video(vw[torch.from_numpy(index)])
        ea = model.audio(model.audio_windows(audio))
        return strided_diagonal_means((ea @ ev.T).cpu().numpy(), index, offsets, max(1, min_windows // video_stride))

    return curve


def xcorr_curve_fn(offsets: Sequence[int], cfg: XcorrConfig = XcorrConfig()) -> CurveFn:
    return lambda clip: xcorr_curve(clip, offsets, cfg)


def pair_clip(video_of: ClipStreams, audio_of: ClipStreams) -> ClipStreams:
    """A mismatched pair: the video of one clip with the audio of another (trimmed to the shorter)."""
    n = min(video_of.num_frames, audio_of.num_frames)
    return ClipStreams(f"{video_of.cut_id}|{audio_of.cut_id}", video_of.video[:n], audio_of.audio[:n], audio_of.energy[:n],
                       video_of.speaker)


def make_curve_fn(method: str, offsets: Sequence[int], model: Optional[SyncNet] = None,
                  xcorr_cfg: XcorrConfig = XcorrConfig(), min_windows: int = 10, video_stride: int = 1) -> CurveFn:
    if method == "learned":
        if model is None:
            raise ValueError("method 'learned' needs a sync model")
        return learned_curve_fn(model, offsets, min_windows, video_stride)
    if method == "xcorr":
        return xcorr_curve_fn(offsets, xcorr_cfg)
    raise ValueError(f"unknown sync method {method!r} ({' | '.join(METHODS)})")
