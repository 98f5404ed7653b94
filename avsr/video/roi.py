"""Mouth region of interest: Viola-Jones face detection, a mouth box from the face box, crops.

OpenCV 4.x ships Haar cascades for frontal faces but none for mouths, so the mouth is placed
geometrically inside the face box (see :class:`MouthGeometry`). Per-frame detections jitter by a
few pixels and sometimes fail, so the face box track is smoothed and gaps are filled from
neighbouring frames before the mouth is cropped.

On real faces the dlib landmark locator (:mod:`avsr.video.landmarks`) places the box on the lips
instead; :mod:`avsr.video.locator` chooses between them from the config and falls back to this track.

The visual front-end feature of the classic hybrid systems (DCT of the mouth crop,
low-frequency coefficients in zig-zag order) is :func:`roi_dct_features`.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import cv2
import numpy as np
import scipy.fft
import scipy.ndimage

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # x, y, w, h in pixels
BoxesLike = Union[Sequence[Sequence[float]], np.ndarray]

CASCADE_NAMES: tuple[str, ...] = (
    "haarcascade_frontalface_default.xml",
    # alt2 is a different boosted cascade: it finds some faces the default one misses (and is faster).
    "haarcascade_frontalface_alt2.xml",
)


@functools.lru_cache(maxsize=None)
def _cascade(name: str) -> cv2.CascadeClassifier:
    """Load a cascade once per process (loading the XML takes ~50 ms)."""
    classifier = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    if classifier.empty():
        raise RuntimeError(f"OpenCV could not load {cv2.data.haarcascades + name} (opencv-python-headless>=4,<5 ships it)")
    return classifier


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def _detect_candidates(gray: np.ndarray, min_size: int, scale_factor: float, min_neighbors: int) -> np.ndarray:
    """All face boxes [N, 4] in one frame: default cascade first, alt2 only when it finds nothing."""
    for name in CASCADE_NAMES:
        found = _cascade(name).detectMultiScale(
            gray, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(min_size, min_size)
        )
        if len(found):
            return np.asarray(found, dtype=np.float64).reshape(-1, 4)
    return np.zeros((0, 4))


def detect_faces(
    frames: np.ndarray,
    scale_factor: float = 1.1,
    min_neighbors: int = 5,
    min_face_fraction: float = 0.2,
    max_detect_side: int = 320,
    detect_every: int = 1,
) -> list[Optional[Box]]:
    """Viola-Jones face box (x, y, w, h) per frame of gray uint8 ``frames`` [T, H, W], None where none is found.

    When a frame has several candidates, the one that overlaps most with the clip's dominant face
    (the median of each frame's largest candidate) wins, ties broken by size: a talking-head clip
    has one speaker, so a spurious small box in the background must not steal the track.

    ``min_face_fraction``: smallest face side as a fraction of the shorter frame side (faster,
    and rejects small background false alarms). ``max_detect_side``: frames are downscaled so the
    longer side is at most this before detection (Haar cost grows with the pixel count; GRID's
    360x288 faces are ~140 px, far above the 24 px the cascade needs). ``detect_every``: run the
    detector on every n-th frame (and the last) only; the others get None and the track smoother
    interpolates them (a talking head moves little in 40-120 ms; detection is most of stage 3).
    """
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be gray uint8 [T, H, W], got {frames.dtype} {frames.shape}")
    _, height, width = frames.shape
    scale = min(1.0, max_detect_side / max(height, width))
    min_size = max(24, int(round(min_face_fraction * min(height, width) * scale)))
    attempted = detection_frames(len(frames), detect_every)
    candidates: list[np.ndarray] = []
    for index, frame in enumerate(frames):
        if not attempted[index]:
            candidates.append(np.zeros((0, 4)))
            continue
        small = frame if scale == 1.0 else cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        candidates.append(_detect_candidates(small, min_size, scale_factor, min_neighbors) / scale)

    return choose_dominant_face(candidates)


def choose_dominant_face(candidates: Sequence[np.ndarray]) -> list[Optional[Box]]:
    """One box per frame from per-frame candidate boxes [N, 4] (x, y, w, h): the candidate that
    overlaps most with the clip's dominant face (median of each frame's largest), ties broken by
    size; None where a frame has no candidate. Shared by every face detector of the package."""
    largest = [c[np.argmax(c[:, 2] * c[:, 3])] for c in candidates if len(c)]
    if not largest:
        return [None] * len(candidates)
    anchor = np.median(np.stack(largest), axis=0)
    anchor_area = anchor[2] * anchor[3]
    chosen: list[Optional[Box]] = []
    for cands in candidates:
        if not len(cands):
            chosen.append(None)
            continue
        # Overlap with the dominant face first; relative size as a tie-breaker.
        scores = [_iou(c, anchor) + 0.1 * min(1.0, c[2] * c[3] / anchor_area) for c in cands]
        best = cands[int(np.argmax(scores))]
        chosen.append(tuple(int(round(v)) for v in best))  # type: ignore[arg-type]
    return chosen


def detection_frames(num_frames: int, detect_every: int = 1) -> np.ndarray:
    """Bool mask [T] of the frames the detector runs on: every ``detect_every``-th and the last."""
    if detect_every < 1:
        raise ValueError(f"detect_every must be >= 1, got {detect_every}")
    mask = np.zeros(num_frames, dtype=bool)
    mask[::detect_every] = True
    if num_frames:
        mask[-1] = True
    return mask


@dataclass(frozen=True)
class MouthGeometry:
    """Where the mouth lies inside a Haar frontal-face box, in units of the face box.

    The default cascade's box spans roughly brows to chin, ear to ear. On the GRID clips the lip
    line sits at 0.80 of the box height below its top edge and centred horizontally (measured:
    s1/bbaf2n and id2/swwp2s, lips at 0.79-0.81). A square of 0.5 face widths holds both mouth
    corners (the mouth is ~0.35 face widths wide) with margin for opening and head motion, and
    stays above the collar.
    """

    centre_x: float = 0.50
    centre_y: float = 0.80
    side: float = 0.50


def smooth_track(boxes: np.ndarray, valid: np.ndarray, median_window: int, mean_window: int) -> np.ndarray:
    """Fill and smooth a [T, K] track (boxes, centres, scales); rows where ``valid`` is False are ignored as input.

    Running median over the detected frames (drops single-frame outliers), linear interpolation
    across failed frames (held constant before the first and after the last detection), then a
    moving average over all frames (removes the remaining pixel jitter that would otherwise show
    up as fake motion in the crops).
    """
    num_frames = len(boxes)
    idx = np.flatnonzero(valid)
    det = boxes[idx].astype(np.float64)
    if len(det) >= 3 and median_window > 1:
        det = scipy.ndimage.median_filter(det, size=(min(median_window, len(det)), 1), mode="nearest")
    filled = np.stack([np.interp(np.arange(num_frames), idx, det[:, k]) for k in range(boxes.shape[1])], axis=1)
    if mean_window > 1 and num_frames > 1:
        filled = scipy.ndimage.uniform_filter1d(filled, size=min(mean_window, num_frames), axis=0, mode="nearest")
    return filled


def mouth_boxes_from_faces(face_boxes: np.ndarray, geometry: MouthGeometry = MouthGeometry()) -> np.ndarray:
    """Square mouth boxes [T, 4] (x, y, side, side; float) from face boxes [T, 4]."""
    face_boxes = np.asarray(face_boxes, dtype=np.float64).reshape(-1, 4)
    x, y, w, h = face_boxes.T
    side = geometry.side * w
    cx = x + geometry.centre_x * w
    cy = y + geometry.centre_y * h
    return np.stack([cx - side / 2, cy - side / 2, side, side], axis=1)


def crop_box(frame: np.ndarray, box: Sequence[float], size: int) -> np.ndarray:
    """Crop ``box`` (x, y, w, h) from a gray frame, edge-padding outside it, resized to size x size (INTER_AREA)."""
    height, width = frame.shape
    x0, y0 = int(round(box[0])), int(round(box[1]))
    x1, y1 = x0 + max(1, int(round(box[2]))), y0 + max(1, int(round(box[3])))
    pad_before_y, pad_before_x = max(0, -y0), max(0, -x0)
    pad_after_y, pad_after_x = max(0, y1 - height), max(0, x1 - width)
    if pad_before_y or pad_before_x or pad_after_y or pad_after_x:
        # Replicate the border rather than fill black: a black band would look like an open mouth.
        frame = np.pad(frame, ((pad_before_y, pad_after_y), (pad_before_x, pad_after_x)), mode="edge")
        x0, x1 = x0 + pad_before_x, x1 + pad_before_x
        y0, y1 = y0 + pad_before_y, y1 + pad_before_y
    patch = frame[y0:y1, x0:x1]
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)


@dataclass
class RoiResult:
    """Mouth crops of one clip and how they were found.

    ``boxes``: mouth boxes (x, y, w, h) used per frame; ``face_boxes``: the smoothed face track;
    ``detected``: the locator found the face (Haar) or the mouth (landmarks, see
    :mod:`avsr.video.landmarks`) in that frame; ``face_fraction``: mean of ``detected`` over the
    frames the locator ran on; ``source``: what the boxes came from: ``"landmarks"``, ``"haar"``,
    ``"known_face_boxes"`` or ``"centre_default"`` (no face found at all); ``locator``: the
    configured locator (``source`` differs from it when a fallback was used); ``points``: the
    68 landmarks [T, 68, 2] when the landmark locator ran, else None.
    """

    crops: np.ndarray  # uint8 [T, S, S]
    boxes: np.ndarray  # float32 [T, 4]
    face_boxes: np.ndarray  # float32 [T, 4]
    detected: np.ndarray  # bool [T]
    face_fraction: float
    source: str
    locator: str = "haar"
    points: Optional[np.ndarray] = None

    @property
    def used_fallback(self) -> bool:
        return self.source != self.locator


def _known_boxes_array(known_face_boxes: BoxesLike, num_frames: int) -> np.ndarray:
    known = np.asarray(known_face_boxes, dtype=np.float64)
    if known.ndim == 1:
        known = np.tile(known.reshape(1, 4), (num_frames, 1))
    if known.shape != (num_frames, 4):
        raise ValueError(f"known_face_boxes must be [4] or [{num_frames}, 4], got {known.shape}")
    return known


def default_face_box(height: int, width: int) -> np.ndarray:
    """A centred face box for when nothing is known: a square of 0.6 x the shorter side, centred,
    which puts the mouth slightly below the frame centre, as in a framed talking head."""
    side = 0.6 * min(height, width)
    return np.array([(width - side) / 2, (height - side) / 2, side, side])


def extract_mouth_rois(
    frames: np.ndarray,
    crop_size: int = 44,
    known_face_boxes: Optional[BoxesLike] = None,
    geometry: MouthGeometry = MouthGeometry(),
    min_detected_frames: int = 1,
    median_window: int = 5,
    mean_window: int = 5,
    detections: Optional[Sequence[Optional[Box]]] = None,
    detect_every: int = 1,
) -> RoiResult:
    """Gray mouth crops [T, crop_size, crop_size] of a gray uint8 clip [T, H, W].

    The Haar detector always runs (its hit rate is what we report). Only when it finds a face in
    fewer than ``min_detected_frames`` frames is the face track replaced by ``known_face_boxes``
    (e.g. the renderer's true boxes for the generated corpus; [4] or [T, 4], same convention as a
    Haar box) or, failing that, a centred default box; ``source`` says which. ``detections`` lets
    a caller pass precomputed :func:`detect_faces` output; ``detect_every`` must match how it was
    run, so that ``face_fraction`` counts only the frames the detector looked at.
    """
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be gray uint8 [T, H, W], got {frames.dtype} {frames.shape}")
    num_frames, height, width = frames.shape
    if detections is None:
        detections = detect_faces(frames, detect_every=detect_every)
    if len(detections) != num_frames:
        raise ValueError(f"{len(detections)} detections for {num_frames} frames")
    detected = np.array([d is not None for d in detections], dtype=bool)
    raw = np.array([d if d is not None else (0, 0, 0, 0) for d in detections], dtype=np.float64).reshape(-1, 4)

    if detected.sum() >= max(1, min_detected_frames):
        source = "haar"
        face_track = smooth_track(raw, detected, median_window, mean_window)
    elif known_face_boxes is not None:
        source = "known_face_boxes"
        face_track = _known_boxes_array(known_face_boxes, num_frames)
        # The renderer's boxes are exact but may jump by a pixel: the same light smoothing keeps crops steady.
        face_track = smooth_track(face_track, np.ones(num_frames, dtype=bool), 1, mean_window)
    else:
        source = "centre_default"
        face_track = np.tile(default_face_box(height, width), (num_frames, 1))
    if source != "haar":
        logger.warning("no face detected in %d/%d frames: using %s", int((~detected).sum()), num_frames, source)

    mouth = mouth_boxes_from_faces(face_track, geometry)
    crops = np.stack([crop_box(frame, box, crop_size) for frame, box in zip(frames, mouth)]) if num_frames else np.zeros((0, crop_size, crop_size), np.uint8)
    return RoiResult(
        crops=crops.astype(np.uint8),
        boxes=mouth.astype(np.float32),
        face_boxes=face_track.astype(np.float32),
        detected=detected,
        face_fraction=float(detected[detection_frames(num_frames, detect_every)].mean()) if num_frames else 0.0,
        source=source,
    )


@functools.lru_cache(maxsize=16)
def zigzag_indices(height: int, width: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of an H x W block in JPEG zig-zag order: by anti-diagonal (increasing spatial
    frequency), alternating direction along each diagonal."""
    width = height if width is None else width
    cells = [(r, c) for r in range(height) for c in range(width)]
    # On even diagonals walk upwards (row decreasing), on odd ones downwards, as JPEG does.
    cells.sort(key=lambda rc: (rc[0] + rc[1], rc[1] if (rc[0] + rc[1]) % 2 == 0 else rc[0]))
    rows = np.array([r for r, _ in cells], dtype=np.int64)
    cols = np.array([c for _, c in cells], dtype=np.int64)
    return rows, cols


def roi_dct_features(crops: np.ndarray, num_coeffs: int = 64, mean_normalise: bool = True) -> np.ndarray:
    """Low-frequency 2-D DCT coefficients of each crop, zig-zag ordered: float32 [T, num_coeffs].

    Pixels are scaled to [0, 1]; with ``mean_normalise`` the clip's mean image is subtracted first
    (per-pixel mean over time), which removes the speaker's static appearance and lighting and
    keeps the mouth movement (the visual analogue of cepstral mean normalisation; the DCT is
    linear, so this equals subtracting the clip mean of each coefficient).
    """
    if crops.ndim != 3:
        raise ValueError(f"crops must be [T, H, W], got {crops.shape}")
    _, height, width = crops.shape
    if num_coeffs > height * width:
        raise ValueError(f"num_coeffs={num_coeffs} exceeds the {height}x{width} DCT block")
    pixels = crops.astype(np.float64) / 255.0
    if mean_normalise and len(pixels):
        pixels = pixels - pixels.mean(axis=0, keepdims=True)
    coeffs = scipy.fft.dctn(pixels, type=2, axes=(1, 2), norm="ortho")
    rows, cols = zigzag_indices(height, width)
    return coeffs[:, rows[:num_coeffs], cols[:num_coeffs]].astype(np.float32)
