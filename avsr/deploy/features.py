"""Stage 3's preprocessing for one media file, so a trained system sees what it saw in training.

- audio: the same extractors and options as stage 3 (:mod:`avsr.features.audio`: 80-dim fbank
  for the E2E models, 24-dim MFCC for the hybrid systems), on 16 kHz mono audio;
- video: the configured mouth locator (:func:`avsr.video.locator.locate_mouth`: Haar face box
  or dlib landmarks, with their smoothing and interpolation over frames where the face is not
  found) at the source frame rate, crops resampled to the models' 25 fps
  (:func:`avsr.video.frame_rate.resample_frames`), and per chunk the ROI DCT of the hybrid
  systems (its clip-mean normalisation is per utterance, as in stage 3).

Long videos are located in blocks of frames (each block is one locator call; a block where no
face is found keeps the previous block's last face box instead of a centred default box), so
memory stays bounded by the block, not by the file.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from avsr.deploy.media import SAMPLING_RATE, Chunk, MediaInfo, iter_video_frames, load_audio
from avsr.features.audio import AudioFeatureConfig, compute_fbank, compute_mfcc

PathLike = Union[str, Path]
log = logging.getLogger(__name__)
MODEL_FPS = 25.0
FACE_SOURCES = ("haar", "landmarks")  # the locator found the face itself (not a fallback box)


def default_features_conf() -> Optional[Path]:
    """conf/features.yaml of the checkout this package runs from (None when installed elsewhere)."""
    path = Path(__file__).resolve().parents[2] / "conf" / "features.yaml"
    return path if path.is_file() else None


@dataclass
class FeatureSettings:
    """The stage-3 settings that matter for one file (from conf/features.yaml)."""

    audio: AudioFeatureConfig = field(default_factory=AudioFeatureConfig)
    crop_size: int = 44
    num_dct: int = 64
    video_conf: dict = field(default_factory=dict)  # the ``video`` section (locator choice and settings)
    corpus: Optional[str] = None  # picks a per-corpus locator (``video.locator`` map)

    @classmethod
    def from_conf(cls, conf: Optional[dict], corpus: Optional[str] = None) -> "FeatureSettings":
        if not conf:
            return cls(corpus=corpus)
        a = conf.get("audio") or {}
        defaults = AudioFeatureConfig()
        audio = AudioFeatureConfig(
            num_mel_bins=int(a.get("num_mel_bins", defaults.num_mel_bins)), num_ceps=int(a.get("num_ceps", defaults.num_ceps)),
            mfcc_mel_bins=int(a.get("mfcc_mel_bins", defaults.mfcc_mel_bins)),
            frame_length_ms=float(a.get("frame_length_ms", defaults.frame_length_ms)),
            frame_shift_ms=float(a.get("frame_shift_ms", defaults.frame_shift_ms)))
        v = conf.get("video") or {}
        return cls(audio, int(v.get("crop_size", 44)), int(v.get("num_dct", 64)), dict(v), corpus)

    def locator(self):
        from avsr.video.locator import LocatorConfig

        return LocatorConfig.from_video_conf(self.video_conf, self.corpus)


@dataclass
class VideoTrack:
    """Mouth crops of a whole file at 25 fps and how well the face was found."""

    crops: np.ndarray  # uint8 [Tv, S, S] at 25 fps
    source_fps: float
    source_frames: int
    face_frames: int  # frames (at the source rate) of blocks in which the locator found the face
    sources: dict[str, int]  # box source -> source frames (haar, landmarks, known_face_boxes, centre_default)
    face_fraction: float  # mean per-frame hit rate of the locator over the frames it looked at

    @property
    def has_face(self) -> bool:
        return self.face_frames > 0


def mouth_track(info: MediaInfo, settings: FeatureSettings, block: int = 300, progress=None) -> VideoTrack:
    """Locate the mouth in every frame of ``info.path`` (blocks of ``block`` frames)."""
    from avsr.video.frame_rate import resample_frames
    from avsr.video.locator import locate_mouth

    cfg = settings.locator()
    crops, sources = [], {}
    face_frames = hits = looked = total = 0
    last_face = None
    for frames in iter_video_frames(info.path, block):
        roi = locate_mouth(frames, cfg, crop_size=settings.crop_size, known_face_boxes=last_face)
        crops.append(roi.crops)
        n = len(frames)
        total += n
        sources[roi.source] = sources.get(roi.source, 0) + n
        if roi.source in FACE_SOURCES:
            face_frames += n
            last_face = roi.face_boxes[-1]  # a later block without a face keeps this box
        hits += roi.face_fraction * n
        looked += n
        if progress is not None:
            progress.update(n)
    all_crops = np.concatenate(crops) if crops else np.zeros((0, settings.crop_size, settings.crop_size), np.uint8)
    fps = float(info.fps or MODEL_FPS)
    return VideoTrack(resample_frames(all_crops, fps, MODEL_FPS), fps, total, face_frames, sources,
                      hits / looked if looked else 0.0)


@dataclass
class FileFeatures:
    """Everything a system may read from one file; a stream that is absent is None."""

    path: Path
    duration: float
    samples: Optional[np.ndarray]  # float32 16 kHz
    fbank: Optional[np.ndarray]  # [T, 80] at 100 fps
    mfcc: Optional[np.ndarray]  # [T, 24]
    video: Optional[VideoTrack]
    notes: list[str] = field(default_factory=list)

    def chunk(self, c: Chunk, num_dct: int = 64) -> dict[str, Any]:
        """The slice of every stream in ``c`` (audio frames [100 s, 100 e), crops [25 s, 25 e)),
        plus the chunk's ROI DCT (clip-mean normalised over the chunk, as stage 3 does per cut)."""
        a0, a1 = int(round(c.start * 100)), int(round(c.end * 100))
        v0, v1 = int(round(c.start * MODEL_FPS)), int(round(c.end * MODEL_FPS))
        out: dict[str, Any] = {"fbank": None, "mfcc": None, "crops": None, "roi_dct": None}
        if self.fbank is not None:
            out["fbank"] = self.fbank[a0:a1]
            out["mfcc"] = self.mfcc[a0:a1] if self.mfcc is not None else None
        if self.video is not None and self.video.has_face:
            crops = self.video.crops[v0:v1]
            if len(crops) == 0 and len(self.video.crops):  # audio a frame longer than the video: hold the last
                crops = self.video.crops[-1:]
            out["crops"] = crops
            if num_dct:
                from avsr.video.roi import roi_dct_features

                out["roi_dct"] = roi_dct_features(crops, num_coeffs=num_dct)
        return out


def file_features(info: MediaInfo, settings: FeatureSettings, need_audio: bool, need_video: bool, need_mfcc: bool = False,
                  progress=None) -> FileFeatures:
    """Decode and featurise the streams a system needs (an absent stream stays None)."""
    samples = fbank = mfcc = None
    video = None
    notes: list[str] = []
    if need_audio and info.has_audio:
        samples = load_audio(info, SAMPLING_RATE)
        fbank = compute_fbank(samples, settings.audio)
        mfcc = compute_mfcc(samples, settings.audio) if need_mfcc else None
    if need_video and info.has_video:
        video = mouth_track(info, settings, progress=progress)
    if samples is not None:
        duration = len(samples) / SAMPLING_RATE
    elif video is not None:
        duration = video.source_frames / video.source_fps
    else:
        duration = 0.0
    return FileFeatures(info.path, duration, samples, fbank, mfcc, video, notes)
