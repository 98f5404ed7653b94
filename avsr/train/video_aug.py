"""On-the-fly horizontal mirroring of the mouth for E2E training (the flip augmentation of LipNet's
GRID recipe): a mouth seen in a mirror says the same words, so each training utterance's video is
mirrored with probability ``prob``, drawn afresh per epoch.

Mouth crops [T, H, W] are reversed along the width. DCT inputs [T, K] (stage 3's ``roi_dct``: the
first K coefficients of each crop's 2-D DCT-II in zig-zag order) need no crops: reversing a block
along its width multiplies the coefficient in column c by (-1)^c, so the mirror is a sign pattern.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Optional

import numpy as np

from avsr.train.data import Utterance
from avsr.utils.errors import AvsrInputError
from avsr.video.roi import zigzag_indices


@dataclass
class VideoFlipConfig:
    prob: float = 0.0  # 0 = never

    def __post_init__(self) -> None:  # here, not in VideoFlip: the loop builds no VideoFlip for prob <= 0
        if not 0.0 <= float(self.prob) <= 1.0:
            raise AvsrInputError(None, f"train.video_flip.prob must be in [0, 1], got {self.prob}")


@functools.lru_cache(maxsize=8)
def dct_mirror_signs(num_coeffs: int) -> np.ndarray:
    """+1/-1 per zig-zag coefficient: (-1)^column. The first K zig-zag cells are the same for any
    block of side >= K (they lie on the lowest anti-diagonals), so the crop size is not needed."""
    _, cols = zigzag_indices(num_coeffs)
    return np.where(cols[:num_coeffs] % 2 == 1, -1.0, 1.0).astype(np.float32)


def mirror_video(roi: np.ndarray) -> np.ndarray:
    """The horizontally mirrored video of one utterance: crops [T, H, W] or DCT frames [T, K]."""
    if roi.ndim == 3:
        return np.ascontiguousarray(roi[:, :, ::-1])
    if roi.ndim == 2:
        return roi * dct_mirror_signs(roi.shape[1])
    raise ValueError(f"video must be crops [T, H, W] or DCT frames [T, K], got shape {roi.shape}")


class VideoFlip:
    def __init__(self, cfg: VideoFlipConfig) -> None:
        self.prob = float(cfg.prob)

    def __call__(self, utt: Utterance, rng: np.random.Generator) -> Utterance:
        if utt.roi is None or len(utt.roi) == 0 or rng.random() >= self.prob:
            return utt
        return dataclasses.replace(utt, roi=mirror_video(utt.roi))


def video_flip_config(values: Optional[dict]) -> VideoFlipConfig:
    from avsr.models.factory import dataclass_from

    return dataclass_from(VideoFlipConfig, values, "train.video_flip")
