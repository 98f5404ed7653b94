"""The seed paper's front-end (conf-selectable):

  audio  24 MFCC (per-utterance mean-normalised) -> stack 9 frames -> LDA to 40 on CD-state
         labels -> (in the batch) splice ±4 -> 360-d;  or plain fbank (80) -> splice ±4.
  video  mouth-ROI DCT at 25 fps -> linear interpolation to the 100 fps audio frame times ->
         stack 9 -> LDA to 60 -> splice ±4 -> 540-d.

``FrontEnd.transform`` gives the per-frame (pre-splice) streams; the ±4 splice happens when
batches are gathered (avsr.hybrid.data), so memory holds 40 + 60 floats per frame, not 900.
After LDA each stream is standardised with training-set mean and variance.

The video stream is optional: fitted without video (an audio-only corpus), the front-end has
no video transform and ``transform`` gives ``None`` for it (only the audio variant can use that).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Union

import numpy as np
import scipy.linalg

from avsr.utils.io import atomic_path

PathLike = Union[str, Path]
AUDIO_FRAME_SHIFT = 0.01
VIDEO_FRAME_SHIFT = 0.04


@dataclass
class StreamConfig:
    source: str  # audio: "mfcc" | "fbank"; video: "roi_dct"
    stack: int = 4  # ±frames stacked before LDA (0 = no stacking)
    lda_dim: int = 0  # 0 = no LDA
    splice: int = 4  # ±frames spliced at the DNN input
    cmn: bool = True  # per-utterance mean normalisation of the raw features
    cvn: bool = False  # ... and variance normalisation (per-utterance CMVN; needs cmn)
    num_ceps: int = 0  # keep only the first N raw coefficients (0 = all; e.g. 13 MFCC as the GMMs)


@dataclass
class FrontEndConfig:
    audio: StreamConfig = field(default_factory=lambda: StreamConfig("mfcc", 4, 40, 4))
    video: StreamConfig = field(default_factory=lambda: StreamConfig("roi_dct", 4, 60, 4))
    lda_max_frames: int = 200000  # about this many frames are sampled for LDA / normalisation statistics
    lda_reg: float = 1e-3  # ridge on the within-class scatter (relative to its mean diagonal)

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> "FrontEndConfig":
        d = dict(d or {})
        base = cls()
        audio = StreamConfig(**{**asdict(base.audio), **d.pop("audio", {})})
        video = StreamConfig(**{**asdict(base.video), **d.pop("video", {})})
        return cls(audio=audio, video=video, **d)

    def input_dims(self, raw_audio_dim: int, raw_video_dim: int) -> tuple[int, int]:
        return self.stream_dim(self.audio, raw_audio_dim) * (2 * self.audio.splice + 1), self.stream_dim(
            self.video, raw_video_dim
        ) * (2 * self.video.splice + 1)

    @staticmethod
    def stream_dim(stream: StreamConfig, raw_dim: int) -> int:
        return stream.lda_dim or raw_dim * (2 * stream.stack + 1)


def stack_frames(x: np.ndarray, context: int) -> np.ndarray:
    """[T, D] -> [T, D * (2 context + 1)], edges replicated (Kaldi's splice-feats)."""
    if context == 0:
        return x
    padded = np.pad(x, ((context, context), (0, 0)), mode="edge")
    return np.concatenate([padded[k : k + len(x)] for k in range(2 * context + 1)], axis=1)


def interpolate_video(video: np.ndarray, num_frames: int) -> np.ndarray:
    """25 fps [Tv, D] -> [num_frames, D] at the audio frame centres (linear interpolation,
    edges held), so each 10 ms audio frame gets the mouth shape at its own time."""
    video = np.asarray(video, np.float64)
    if len(video) == 0:
        raise ValueError("empty video feature array")
    t_audio = (np.arange(num_frames) + 0.5) * AUDIO_FRAME_SHIFT
    t_video = (np.arange(len(video)) + 0.5) * VIDEO_FRAME_SHIFT
    return np.stack([np.interp(t_audio, t_video, video[:, d]) for d in range(video.shape[1])], axis=1)


def fit_lda(x: np.ndarray, labels: np.ndarray, out_dim: int, reg: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """LDA by the generalised eigenproblem S_b v = lambda S_w v; returns (mean, W [D, out_dim]),
    directions ordered by decreasing class separation. Ridge ``reg`` keeps S_w invertible
    (stacked frames are strongly correlated)."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    xc = x - mean
    classes, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse).astype(np.float64)
    sums = np.zeros((len(classes), x.shape[1]))
    np.add.at(sums, inverse, xc)
    class_means = sums / counts[:, None]
    total = xc.T @ xc / len(x)
    between = (class_means * counts[:, None]).T @ class_means / len(x)
    within = total - between
    within += reg * np.trace(within) / len(within) * np.eye(len(within))
    out_dim = min(out_dim, x.shape[1])
    vals, vecs = scipy.linalg.eigh(between, within)
    order = np.argsort(vals)[::-1][:out_dim]
    return mean, vecs[:, order]


@dataclass
class StreamTransform:
    mean: np.ndarray  # LDA input mean ([D_in]) or empty
    lda: np.ndarray  # [D_in, D_out] or empty (identity)
    norm_mean: np.ndarray
    norm_std: np.ndarray

    def apply(self, stacked: np.ndarray) -> np.ndarray:
        y = stacked if self.lda.size == 0 else (stacked - self.mean) @ self.lda
        return ((y - self.norm_mean) / self.norm_std).astype(np.float32)


class FrontEnd:
    """Fitted front-end: raw cut arrays -> per-frame audio and video streams."""

    def __init__(self, cfg: FrontEndConfig, audio: Optional[StreamTransform] = None, video: Optional[StreamTransform] = None) -> None:
        self.cfg = cfg
        self.audio = audio
        self.video = video

    def _prepare(self, raw: np.ndarray, stream: StreamConfig, num_frames: Optional[int]) -> np.ndarray:
        x = np.asarray(raw, np.float64)
        if stream.num_ceps:
            x = x[:, : stream.num_ceps]
        if num_frames is not None:  # video: to the audio frame rate
            x = interpolate_video(x, num_frames)
        if stream.cmn:
            x = x - x.mean(axis=0, keepdims=True)
            if stream.cvn:
                x = x / np.maximum(x.std(axis=0, keepdims=True), 1e-5)
        return stack_frames(x, stream.stack)

    def prepare_audio(self, raw_audio: np.ndarray) -> np.ndarray:
        return self._prepare(raw_audio, self.cfg.audio, None)

    def prepare_video(self, raw_video: np.ndarray, num_frames: int) -> np.ndarray:
        return self._prepare(raw_video, self.cfg.video, num_frames)

    def fit(self, raw_audio: Mapping[str, np.ndarray], raw_video: Optional[Mapping[str, np.ndarray]], labels: Mapping[str, np.ndarray],
            seed: int = 0) -> "FrontEnd":
        """Estimate LDA (on CD-state ``labels``) and normalisation from training utterances;
        ``raw_video`` None: audio only (no video transform)."""
        rng = np.random.default_rng(seed)
        utts = [u for u in labels if u in raw_audio and (raw_video is None or u in raw_video)]
        total = sum(min(len(raw_audio[u]), len(labels[u])) for u in utts)
        # Sample frames utterance by utterance: stacking every frame first held ~1.5 GB (float64).
        keep_prob = min(1.0, self.cfg.lda_max_frames / max(total, 1))
        a_parts, v_parts, y_parts = [], [], []
        for u in utts:
            a = self.prepare_audio(raw_audio[u])
            n = min(len(a), len(labels[u]))
            keep = np.flatnonzero(rng.random(n) < keep_prob)
            a_parts.append(a[keep])
            if raw_video is not None:
                v_parts.append(self.prepare_video(raw_video[u], len(a))[keep])
            y_parts.append(np.asarray(labels[u])[keep])
        y_all = np.concatenate(y_parts)
        self.audio = self._fit_stream(np.concatenate(a_parts), y_all, self.cfg.audio)
        self.video = self._fit_stream(np.concatenate(v_parts), y_all, self.cfg.video) if raw_video is not None else None
        return self

    @property
    def has_video(self) -> bool:
        """Whether a video transform was fitted (False: audio-only front-end)."""
        return self.video is not None

    def _fit_stream(self, x: np.ndarray, y: np.ndarray, stream: StreamConfig) -> StreamTransform:
        if stream.lda_dim:
            mean, lda = fit_lda(x, y, stream.lda_dim, self.cfg.lda_reg)
            z = (x - mean) @ lda
        else:
            mean, lda, z = np.zeros(0), np.zeros((0, 0)), x
        return StreamTransform(mean, lda, z.mean(axis=0), np.maximum(z.std(axis=0), 1e-5))

    def transform(self, raw_audio: np.ndarray, raw_video: Optional[np.ndarray] = None) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """Per-frame (audio [T, Da], video [T, Dv]) float32 streams, T = audio frames; video is
        None when no raw video is given or the front-end has no video transform."""
        if self.audio is None:
            raise RuntimeError("front-end is not fitted")
        a = self.prepare_audio(raw_audio)
        if raw_video is None or self.video is None:
            return self.audio.apply(a), None
        return self.audio.apply(a), self.video.apply(self.prepare_video(raw_video, len(a)))

    def save(self, path: PathLike) -> None:
        arrays = {}
        for name, st in (("audio", self.audio), ("video", self.video)):
            if st is None:  # audio-only front-end: no video arrays
                continue
            for k in ("mean", "lda", "norm_mean", "norm_std"):
                arrays[f"{name}_{k}"] = getattr(st, k)
        import json

        arrays["config"] = np.array(json.dumps({"audio": asdict(self.cfg.audio), "video": asdict(self.cfg.video),
                                                 "lda_max_frames": self.cfg.lda_max_frames, "lda_reg": self.cfg.lda_reg}))
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: PathLike) -> "FrontEnd":
        import json

        with np.load(path, allow_pickle=False) as d:
            cfg = FrontEndConfig.from_dict(json.loads(str(d["config"])))
            streams = [StreamTransform(*(d[f"{n}_{k}"] for k in ("mean", "lda", "norm_mean", "norm_std"))) if f"{n}_mean" in d.files else None
                       for n in ("audio", "video")]
        return cls(cfg, *streams)

    @property
    def stream_dims(self) -> tuple[int, int]:
        """(audio, video) per-frame dims; video 0 for an audio-only front-end."""
        return len(self.audio.norm_mean), len(self.video.norm_mean) if self.video is not None else 0
