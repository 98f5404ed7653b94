"""Landmark mouth locator: dlib's 68-point face landmarks, the mouth ROI of LipNet's GRID preprocessing.

The models come inside wheels, nothing is downloaded at run time: ``dlib-bin`` (prebuilt dlib:
the HOG frontal-face detector is compiled in) and ``face-recognition-models`` (ships
``shape_predictor_68_face_landmarks.dat``, dlib's iBUG 300-W regression-tree predictor).

Per clip:

1. face boxes: dlib's HOG detector on every ``detect_every``-th frame (Haar boxes, mapped to the
   HOG convention, when HOG finds nothing), smoothed and interpolated like the Haar track;
2. landmarks on *every* frame from that box. The predictor always returns 68 points, even on a
   wall, so each frame is fitted twice, from the box displaced by +/- ``check_shift`` of its size:
   on a face both fits converge to the same points (spread ~0.01 inter-ocular distances on GRID),
   on anything else they follow the box (spread ~0.5). A frame is *located* when the spread is
   at most ``max_spread``; the landmarks are the mean of the two fits;
3. the mouth box is anchored on the rigid points (eyes, nose), not on the lips: its centre is the
   clip's median mouth position in a face frame (origin: mean of the eye and nose points, unit:
   the inter-ocular distance, rotated with the eye line), its side ``side_iod`` inter-ocular
   distances; centre and scale are smoothed over time and interpolated over frames that are not
   located. So the crop follows the head, and lip movement stays inside the crop.

When fewer than ``min_located_fraction`` of the frames are located (no face, broken frames, or a
face the predictor does not fit, such as the embedded corpus's rendered faces), the caller also
runs the Haar track and keeps whichever found the face in more frames (:mod:`avsr.video.locator`).
"""
from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from avsr.video.roi import Box, choose_dominant_face, detection_frames, smooth_track

MODEL_PACKAGE = "face_recognition_models"
MODEL_FILE = "models/shape_predictor_68_face_landmarks.dat"
INSTALL_HINT = "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0 (both are in requirements.txt)"

# iBUG 68-point layout.
RIGID = slice(27, 48)  # nose bridge, nose, both eyes: they do not move when the mouth does
LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)
MOUTH = slice(48, 68)
CHECKED = slice(27, 68)  # points whose agreement decides whether a frame is located (the jaw line is loose)

# A Haar frontal-face box (default cascade) in the HOG detector's convention, measured on 300
# GRID frames where both found the face: same centre x, centre 0.10 box heights lower, 0.88 the size.
HAAR_TO_HOG = (0.0, 0.10, 0.88)


class LandmarkModelMissing(RuntimeError):
    """dlib or the landmark model package is not installed."""


@dataclass(frozen=True)
class LandmarkConfig:
    """Settings of the landmark locator (``video.landmarks`` in conf/features.yaml)."""

    detect_every: int = 5          # HOG face detection on every n-th frame (and the last)
    max_detect_side: int = 320     # downscale before HOG (its window is 80 px: GRID faces stay ~110 px)
    upsample: int = 0              # HOG pyramid upsampling steps (x2 each, x4 cost): for faces < 80 px
    check_shift: float = 0.05      # the two fits start from the box moved by +/- this fraction
    equalize: bool = True          # fit on histogram-equalised frames (dim, flat video; crops stay unequalised)
    max_spread: float = 0.05       # located when the fits agree within this many inter-ocular distances
    min_located_fraction: float = 0.9  # below this, Haar is run too and the one that found more frames wins
    side_iod: float = 1.6          # mouth box side in inter-ocular distances
    centre_median: int = 5         # smoothing windows (frames) of the box centre ...
    centre_mean: int = 3
    scale_median: int = 9          # ... and of its size (a face's scale changes slowly)
    scale_mean: int = 9

    @classmethod
    def from_dict(cls, conf: Optional[dict]) -> "LandmarkConfig":
        conf = dict(conf or {})
        unknown = set(conf) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown video.landmarks setting(s): {', '.join(sorted(unknown))}")
        return cls(**conf)


def landmark_model_path() -> Path:
    """Path of the 68-point model inside the installed ``face-recognition-models`` package.

    Found through the import system without importing the package (its ``__init__`` needs
    ``pkg_resources``, which current setuptools no longer ships)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LandmarkModelMissing(f"the landmark mouth locator needs the {MODEL_PACKAGE} package: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / MODEL_FILE
    if not path.is_file():
        raise LandmarkModelMissing(f"{path}: landmark model missing from {MODEL_PACKAGE}: {INSTALL_HINT}")
    return path


def landmarks_available() -> bool:
    """True when dlib and the landmark model are installed."""
    try:
        landmark_model_path()
        return importlib.util.find_spec("dlib") is not None
    except LandmarkModelMissing:
        return False


@functools.lru_cache(maxsize=None)
def _models():
    """(HOG face detector, 68-point shape predictor), loaded once per process (~2 s: a 100 MB file)."""
    path = landmark_model_path()
    try:
        import dlib
    except ImportError as err:
        raise LandmarkModelMissing(f"the landmark mouth locator needs dlib: {INSTALL_HINT}") from err
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(path))


def haar_to_hog_boxes(boxes: np.ndarray) -> np.ndarray:
    """Haar face boxes [T, 4] expressed in the HOG detector's convention (the predictor's input)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    dx, dy, size = HAAR_TO_HOG
    x, y, w, h = boxes.T
    cx, cy = x + (0.5 + dx) * w, y + (0.5 + dy) * h
    return np.stack([cx - size * w / 2, cy - size * h / 2, size * w, size * h], axis=1)


def detect_faces_hog(
    frames: np.ndarray, detect_every: int = 5, max_detect_side: int = 320, upsample: int = 0
) -> list[Optional[Box]]:
    """dlib HOG face box (x, y, w, h) per frame of gray uint8 ``frames`` [T, H, W]; None where it
    was not run or found nothing (same conventions as :func:`avsr.video.roi.detect_faces`)."""
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be gray uint8 [T, H, W], got {frames.dtype} {frames.shape}")
    detector, _ = _models()
    _, height, width = frames.shape
    scale = min(1.0, max_detect_side / max(height, width))
    candidates = []
    for frame, attempt in zip(frames, detection_frames(len(frames), detect_every)):
        if not attempt:
            candidates.append(np.zeros((0, 4)))
            continue
        small = frame if scale == 1.0 else cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rects = detector(np.ascontiguousarray(small), upsample)
        found = np.array([[r.left(), r.top(), r.width(), r.height()] for r in rects], dtype=np.float64).reshape(-1, 4)
        candidates.append(found / scale)
    return choose_dominant_face(candidates)


def _fit(predictor, frame: np.ndarray, box: Sequence[float]) -> np.ndarray:
    import dlib

    x, y, w, h = (int(round(v)) for v in box)
    shape = predictor(frame, dlib.rectangle(x, y, x + max(1, w), y + max(1, h)))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def inter_ocular(points: np.ndarray) -> np.ndarray:
    """Distance between the eye centres of landmark sets [..., 68, 2]."""
    return np.linalg.norm(points[..., RIGHT_EYE, :].mean(-2) - points[..., LEFT_EYE, :].mean(-2), axis=-1)


def _fit_pair(predictor, frame: np.ndarray, box: np.ndarray, check_shift: float) -> tuple[np.ndarray, float]:
    """Mean of the two fits from the displaced boxes, and their spread in inter-ocular distances."""
    x, y, w, h = box
    a = _fit(predictor, frame, (x + check_shift * w, y + check_shift * h, w, h))
    b = _fit(predictor, frame, (x - check_shift * w, y - check_shift * h, w, h))
    points = (a + b) / 2
    iod = max(float(inter_ocular(points)), 1e-6)
    return points, float(np.linalg.norm(a[CHECKED] - b[CHECKED], axis=1).mean() / iod)


def roll_degrees(points: np.ndarray) -> np.ndarray:
    """In-plane head roll of landmark sets [..., 68, 2]: the eye line's angle, degrees (y down)."""
    d = points[..., RIGHT_EYE, :].mean(-2) - points[..., LEFT_EYE, :].mean(-2)
    return np.degrees(np.arctan2(d[..., 1], d[..., 0]))


def fit_landmarks(
    frames: np.ndarray, face_boxes: np.ndarray, check_shift: float = 0.05, max_roll: float = 12.0, equalize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """68 landmarks [T, 68, 2] (float32) and their fit spread [T] for every frame, from face boxes [T, 4].

    Two fits per frame, from the box displaced by +/- ``check_shift`` of its size along the
    diagonal; the landmarks are their mean, the spread the mean distance between the two fits
    over the nose, eye and mouth points in inter-ocular distances (small only on a real face).
    The predictor starts from an upright mean face, so a head rolled by more than ``max_roll``
    degrees is fitted again on the frame rotated upright about the box centre (kept when the
    two fits agree better there). With ``equalize`` the frames' histograms are equalised first:
    on dim, low-contrast video the predictor's pixel-difference features barely fire (GRID at a
    quarter of its contrast: 40 % of frames located, 100 % after equalisation)."""
    _, predictor = _models()
    points = np.zeros((len(frames), 68, 2), np.float64)
    spread = np.zeros(len(frames), np.float64)
    for i, (frame, box) in enumerate(zip(frames, np.asarray(face_boxes, dtype=np.float64))):
        frame = cv2.equalizeHist(frame) if equalize else np.ascontiguousarray(frame)
        points[i], spread[i] = _fit_pair(predictor, frame, box, check_shift)
        roll = float(roll_degrees(points[i]))
        if abs(roll) > max_roll:
            centre = (float(box[0] + box[2] / 2), float(box[1] + box[3] / 2))
            m = cv2.getRotationMatrix2D(centre, roll, 1.0)  # undoes the roll: the eye line becomes level
            upright = cv2.warpAffine(frame, m, (frame.shape[1], frame.shape[0]), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
            pts, spr = _fit_pair(predictor, upright, box, check_shift)
            if spr < spread[i]:
                inverse = cv2.invertAffineTransform(m)
                points[i] = pts @ inverse[:, :2].T + inverse[:, 2]
                spread[i] = spr
    return points.astype(np.float32), spread.astype(np.float32)


def mouth_boxes_from_landmarks(points: np.ndarray, located: np.ndarray, cfg: LandmarkConfig = LandmarkConfig()) -> np.ndarray:
    """Square mouth boxes [T, 4] (x, y, side, side) anchored on the rigid landmarks of located frames.

    Frames that are not located are interpolated from their neighbours (held at the ends)."""
    located = np.asarray(located, dtype=bool)
    if not located.any():
        raise ValueError("no located frame to place the mouth box from")
    pts = np.asarray(points, dtype=np.float64)[located]
    left, right = pts[:, LEFT_EYE].mean(1), pts[:, RIGHT_EYE].mean(1)
    iod = np.linalg.norm(right - left, axis=1)
    angle = np.arctan2(right[:, 1] - left[:, 1], right[:, 0] - left[:, 0])
    cos, sin = np.cos(angle), np.sin(angle)
    anchor = pts[:, RIGID].mean(1)
    rel = pts[:, MOUTH].mean(1) - anchor
    # The mouth in the face frame (rotate back, divide by the scale); its median over the clip is
    # where the box goes: the lips open and close around it, the box does not follow them.
    offset = np.median(np.stack([cos * rel[:, 0] + sin * rel[:, 1], -sin * rel[:, 0] + cos * rel[:, 1]], axis=1)
                       / iod[:, None], axis=0)
    centre = anchor + iod[:, None] * np.stack([cos * offset[0] - sin * offset[1], sin * offset[0] + cos * offset[1]], axis=1)

    num_frames = len(located)
    full = np.zeros((num_frames, 3))
    full[located, :2], full[located, 2] = centre, iod
    centre_s = smooth_track(full[:, :2], located, cfg.centre_median, cfg.centre_mean)
    iod_s = smooth_track(full[:, 2:], located, cfg.scale_median, cfg.scale_mean)[:, 0]
    side = cfg.side_iod * iod_s
    return np.stack([centre_s[:, 0] - side / 2, centre_s[:, 1] - side / 2, side, side], axis=1)


def mouth_centres(points: np.ndarray) -> np.ndarray:
    """Mean of the 20 mouth landmarks per frame [T, 2] (the lips themselves, for measurements)."""
    return np.asarray(points, dtype=np.float64)[:, MOUTH].mean(1)

