"""Video access for lhotse cuts (PyAV instead of lhotse's torchaudio-only path)."""
from __future__ import annotations


import numpy as np
from lhotse.cut import Cut, MixedCut, MonoCut

from avsr.video.io import read_video_frames


def speech_cut(cut: Cut) -> MonoCut:
    """The cut that carries the speaker's recording (the first track of a noisy mix)."""
    if isinstance(cut, MixedCut):
        return cut.tracks[0].cut
    return cut


def has_video(cut: Cut) -> bool:
    """Whether the cut's speech recording carries a video source (False for audio-only corpora
    and for cuts whose features were mixed eagerly, which have no recording)."""
    rec = speech_cut(cut).recording
    return rec is not None and rec.has_video


def video_path(cut: Cut) -> str:
    rec = speech_cut(cut).recording
    if rec is None or not rec.has_video:
        raise ValueError(f"cut {cut.id} has no video source")
    return rec._video_source.source  # lhotse keeps the video stream as one of the recording's sources


def load_video_frames(cut: Cut, gray: bool = True) -> np.ndarray:
    """Decode the frames that overlap the cut: uint8 [T, H, W] (gray), T ≈ duration × fps."""
    mono = speech_cut(cut)
    info = mono.recording.video
    frames = read_video_frames(video_path(cut), gray=gray)
    first = int(round(mono.start * info.fps))
    count = int(round(mono.duration * info.fps))
    return frames[first : first + count]
