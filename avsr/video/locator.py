"""The mouth locator chosen in the config: Haar face box + fixed geometry, or dlib landmarks.

``video.locator`` in conf/features.yaml is ``haar`` or ``landmarks``, or a map from corpus name
to one of them with a ``default`` entry (e.g. rendered faces keep Haar, real faces use
landmarks). The landmark locator falls back to the Haar track, per clip, when it cannot place
the mouth (see :mod:`avsr.video.landmarks`); the result's ``source`` says what was used and
``locator`` what was asked for, so every fallback is counted in stage 3's ``roi_stats.json``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Optional, Union

import numpy as np

from avsr.video.landmarks import (
    LandmarkConfig,
    detect_faces_hog,
    fit_landmarks,
    haar_to_hog_boxes,
    mouth_boxes_from_landmarks,
)
from avsr.video.roi import BoxesLike, RoiResult, crop_box, detect_faces, extract_mouth_rois, smooth_track

logger = logging.getLogger(__name__)

LOCATORS = ("haar", "landmarks")
PROBE_FRAMES = 8  # frames fitted first, to give up early on faces the predictor does not fit
PROBE_MIN_LOCATED = 0.25
HAAR_KEYS = ("scale_factor", "min_neighbors", "min_face_fraction", "max_detect_side", "detect_every")


@dataclass(frozen=True)
class LocatorConfig:
    """Which locator, and the settings of both (Haar is also the landmark locator's fallback)."""

    locator: str = "haar"
    haar: dict = field(default_factory=dict)  # keyword arguments of avsr.video.roi.detect_faces
    landmarks: LandmarkConfig = LandmarkConfig()

    def __post_init__(self) -> None:
        if self.locator not in LOCATORS:
            raise ValueError(f"video.locator must be one of {', '.join(LOCATORS)}, got {self.locator!r}")
        unknown = set(self.haar) - set(HAAR_KEYS)
        if unknown:
            raise ValueError(f"unknown video.haar setting(s): {', '.join(sorted(unknown))}")

    @classmethod
    def from_video_conf(cls, video: dict, corpus: Optional[str] = None) -> "LocatorConfig":
        """From the ``video`` section of conf/features.yaml; ``corpus`` picks a per-corpus locator."""
        choice: Union[str, dict] = video.get("locator", "haar")
        if isinstance(choice, dict):
            if "default" not in choice:
                raise ValueError("video.locator map needs a 'default' entry")
            choice = choice.get(corpus, choice["default"]) if corpus is not None else choice["default"]
        return cls(locator=str(choice), haar=dict(video.get("haar") or {}),
                   landmarks=LandmarkConfig.from_dict(video.get("landmarks")))


def locate_mouth(
    frames: np.ndarray,
    cfg: LocatorConfig = LocatorConfig(),
    crop_size: int = 44,
    known_face_boxes: Optional[BoxesLike] = None,
) -> RoiResult:
    """Mouth crops of a gray uint8 clip [T, H, W] with the configured locator (see module doc)."""
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be gray uint8 [T, H, W], got {frames.dtype} {frames.shape}")
    if cfg.locator == "haar" or not len(frames):
        return replace(_haar_rois(frames, cfg, crop_size, known_face_boxes), locator=cfg.locator)
    return landmark_rois(frames, cfg, crop_size, known_face_boxes)


def _haar_rois(frames: np.ndarray, cfg: LocatorConfig, crop_size: int, known_face_boxes: Optional[BoxesLike],
               detections: Optional[list] = None) -> RoiResult:
    if detections is None:
        detections = detect_faces(frames, **cfg.haar)
    return extract_mouth_rois(frames, crop_size=crop_size, known_face_boxes=known_face_boxes,
                              detections=detections, detect_every=cfg.haar.get("detect_every", 1))


def landmark_rois(
    frames: np.ndarray, cfg: LocatorConfig, crop_size: int = 44, known_face_boxes: Optional[BoxesLike] = None
) -> RoiResult:
    """Landmark-anchored mouth crops; the Haar track when the landmarks cannot place the mouth."""
    lm = cfg.landmarks
    num_frames = len(frames)
    hog = detect_faces_hog(frames, lm.detect_every, lm.max_detect_side, lm.upsample)
    valid = np.array([d is not None for d in hog], dtype=bool)
    proposals = np.array([d if d is not None else (0, 0, 0, 0) for d in hog], dtype=np.float64).reshape(-1, 4)
    haar_detections = None
    if not valid.any():
        # HOG misses some faces Haar finds (and the reverse): Haar boxes can still seed the landmarks.
        haar_detections = detect_faces(frames, **cfg.haar)
        valid = np.array([d is not None for d in haar_detections], dtype=bool)
        raw = np.array([d if d is not None else (0, 0, 0, 0) for d in haar_detections], dtype=np.float64).reshape(-1, 4)
        proposals = haar_to_hog_boxes(raw)
    if not valid.any():
        logger.warning("no face found (HOG and Haar): using the Haar fallback")
        return replace(_haar_rois(frames, cfg, crop_size, known_face_boxes, haar_detections), locator="landmarks")
    face_track = smooth_track(proposals, valid, 5, 5)
    # A few frames first: when the predictor fits none of them (a rendered face, a face-like
    # object), fitting every frame would only cost time before the same fallback.
    probe = np.flatnonzero(valid)[np.linspace(0, int(valid.sum()) - 1, min(PROBE_FRAMES, int(valid.sum()))).round().astype(int)]
    _, probe_spread = fit_landmarks(frames[probe], face_track[probe], lm.check_shift, equalize=lm.equalize)
    if (probe_spread <= lm.max_spread).mean() < PROBE_MIN_LOCATED:
        located = np.zeros(num_frames, dtype=bool)
        points = None
    else:
        points, spread = fit_landmarks(frames, face_track, lm.check_shift, equalize=lm.equalize)
        located = spread <= lm.max_spread
    if located.mean() >= lm.min_located_fraction:
        return _landmark_result(frames, face_track, points, located, lm, crop_size)
    # Few frames fitted (a face the predictor does not know, a tilted head, ...): the Haar track
    # if it found the face more often, else the landmarks of the frames that were fitted.
    haar = replace(_haar_rois(frames, cfg, crop_size, known_face_boxes, haar_detections), locator="landmarks")
    if points is not None and located.any() and (haar.source != "haar" or located.mean() >= haar.face_fraction):
        logger.warning("mouth landmarks located in only %d/%d frames (Haar: %.0f%%): interpolating the rest",
                       int(located.sum()), num_frames, 100 * haar.face_fraction)
        return _landmark_result(frames, face_track, points, located, lm, crop_size)
    fitted = (f"{int((probe_spread <= lm.max_spread).sum())}/{len(probe)} probe frames" if points is None
              else f"{int(located.sum())}/{num_frames} frames")
    logger.warning("mouth landmarks located in only %s: using the Haar track (%.0f%% of frames)", fitted, 100 * haar.face_fraction)
    return haar


def _landmark_result(frames: np.ndarray, face_track: np.ndarray, points: np.ndarray, located: np.ndarray,
                     lm: LandmarkConfig, crop_size: int) -> RoiResult:
    boxes = mouth_boxes_from_landmarks(points, located, lm)
    crops = np.stack([crop_box(frame, box, crop_size) for frame, box in zip(frames, boxes)])
    return RoiResult(
        crops=crops.astype(np.uint8), boxes=boxes.astype(np.float32), face_boxes=face_track.astype(np.float32),
        detected=located, face_fraction=float(located.mean()), source="landmarks", locator="landmarks", points=points,
    )
