"""Frame-level data for the hybrid DNNs: all utterances of a set concatenated (audio [N, Da],
video [N, Dv], CD-state targets [N]) with utterance boundaries; minibatches gather the ±splice
context of each frame inside its own utterance (edges replicated).

Video is optional: a set of an audio-only corpus (or one scored by an audio-only front-end)
has ``video`` None, and its batches carry an empty [B, 0] video tensor that only the audio
variant accepts (it never reads video)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Optional, Union

import numpy as np
import torch
from tqdm import tqdm

from avsr.hmm.alignment import FrameAlignment
from avsr.hybrid.frontend import FrontEnd

PathLike = Union[str, Path]


@dataclass
class FrameSet:
    utt_ids: list[str]
    offsets: np.ndarray  # [U + 1] frame offsets of each utterance
    audio: np.ndarray  # [N, Da] float32
    video: Optional[np.ndarray]  # [N, Dv] float32, or None (no video stream)
    labels: np.ndarray  # [N] int64 (-1 = unknown)

    @property
    def num_frames(self) -> int:
        return int(self.offsets[-1])

    def frame_utt(self) -> np.ndarray:
        """Utterance index of every frame."""
        return np.repeat(np.arange(len(self.utt_ids)), np.diff(self.offsets))

    def context_index(self, frames: np.ndarray, splice: int) -> np.ndarray:
        """[B, 2 splice + 1] indices of each frame's neighbours, clamped to its utterance."""
        utt = self._frame_utt[frames]
        lo, hi = self.offsets[utt], self.offsets[utt + 1] - 1
        idx = frames[:, None] + np.arange(-splice, splice + 1)[None, :]
        return np.clip(idx, lo[:, None], hi[:, None])

    def __post_init__(self) -> None:
        self._frame_utt = self.frame_utt()

    def batch(self, frames: np.ndarray, audio_splice: int, video_splice: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(audio [B, Da*(2sa+1)], video [B, Dv*(2sv+1)] (or [B, 0] without video), labels [B])
        tensors on ``device``."""
        a = self.audio[self.context_index(frames, audio_splice)].reshape(len(frames), -1)
        if self.video is None:
            v = np.zeros((len(frames), 0), np.float32)
        else:
            v = self.video[self.context_index(frames, video_splice)].reshape(len(frames), -1)
        return (torch.from_numpy(a).to(device), torch.from_numpy(v).to(device), torch.from_numpy(self.labels[frames]).to(device))

    def utterances(self) -> Iterator[tuple[str, np.ndarray]]:
        """(utt id, frame indices) in order."""
        for i, u in enumerate(self.utt_ids):
            yield u, np.arange(self.offsets[i], self.offsets[i + 1])


def build_frame_set(
    frontend: FrontEnd,
    raw_audio: Mapping[str, np.ndarray],
    raw_video: Optional[Mapping[str, np.ndarray]],
    labels: Optional[Mapping[str, np.ndarray]] = None,
    label_of: Optional[Mapping[str, str]] = None,
) -> FrameSet:
    """Apply the front-end to every utterance. Without ``raw_video`` or without a fitted video
    transform the set has no video stream. ``labels`` are keyed by clean utterance id;
    ``label_of`` maps a (noisy) utterance to its clean id. Utterances whose clean copy has no
    alignment are skipped when labels are given; a label array shorter/longer than the
    features by a frame or two is trimmed/padded by edge repetition (frame-count rounding)."""
    ids, a_parts, v_parts, y_parts = [], [], [], []
    for u in tqdm(sorted(raw_audio), desc="front-end", leave=False, disable=len(raw_audio) < 100):
        key = (label_of or {}).get(u, u)
        if labels is not None and key not in labels:
            continue
        a, v = frontend.transform(raw_audio[u], raw_video[u] if raw_video is not None else None)
        if labels is not None:
            y = np.asarray(labels[key], np.int64)
            if abs(len(y) - len(a)) > 2:
                raise ValueError(f"{u}: {len(a)} feature frames but {len(y)} alignment frames")
            y = y[: len(a)] if len(y) >= len(a) else np.concatenate([y, np.full(len(a) - len(y), y[-1])])
        else:
            y = np.full(len(a), -1, np.int64)
        ids.append(u)
        a_parts.append(a)
        v_parts.append(v)
        y_parts.append(y)
    if not ids:
        raise ValueError("no utterance with features (and labels)")
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in a_parts])])
    video = np.concatenate(v_parts) if v_parts[0] is not None else None
    return FrameSet(ids, offsets, np.concatenate(a_parts), video, np.concatenate(y_parts))


def pdf_labels(alignments: Mapping[str, FrameAlignment]) -> dict[str, np.ndarray]:
    return {u: a.pdf for u, a in alignments.items()}


def load_raw_streams(cuts, audio_source: str = "mfcc", video_source: str = "roi_dct", require_video: bool = False,
                     source: Optional[PathLike] = None) -> tuple[dict, Optional[dict], dict]:
    """(audio {id: [T, D]}, video {id: [Tv, Dv]} or None, clean id of each cut) from lhotse cuts.

    Video is None when some cut has no ``video_source`` array (an audio-only corpus: stage 3
    computed no video features); with ``require_video`` (a model that reads video) that is an
    error naming the cut and ``source`` (the cut set file)."""
    from avsr.hmm.cuts import clean_id, load_array
    from avsr.sync.shift import shift_frames, video_shift_of
    from avsr.utils.errors import AvsrInputError

    cuts = list(cuts)
    without = [c.id for c in cuts if video_source not in (c.custom or {})]
    if without and require_video:
        raise AvsrInputError(source, f"{len(without)} of {len(cuts)} cuts have no {video_source!r} array (no video; first: "
                             f"{without[0]}), but this model needs video: an audio-only corpus trains the audio systems "
                             "only (--modality audio); else re-run stage 3")
    audio, clean = {}, {}
    video: Optional[dict] = None if without else {}
    for c in tqdm(cuts, desc="load features", leave=False):
        if audio_source == "mfcc":
            a = load_array(c, "mfcc")
        elif audio_source == "fbank":
            a = load_array(c, "features")
        else:
            raise ValueError(f"unknown audio source {audio_source!r} (mfcc | fbank)")
        audio[c.id] = np.asarray(a, np.float32)
        if video is not None:
            v = shift_frames(load_array(c, video_source), video_shift_of(c))  # + the sync QA's video_shift
            video[c.id] = np.asarray(v, np.float32).reshape(len(v), -1)
        clean[c.id] = clean_id(c)
    return audio, video, clean
