"""On-the-fly speed perturbation for E2E training (Ko et al. 2015, Kaldi's and icefall's 0.9 / 1.0 /
1.1): the waveform is resampled so that it plays ``factor`` times faster (pitch and formants move
with it, as in Kaldi's sox ``speed``), its fbank is recomputed with stage 3's extractor, and
everything timed on the utterance follows: the mouth crops (or DCT frames) and the auxiliary
frame labels are resampled to the new length by nearest frame, so audio and video stay in step.

Each training utterance draws one factor per epoch from the generator the loop passes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional

import numpy as np
from scipy.signal import resample_poly

from avsr.features.audio import compute_fbank
from avsr.train.data import Utterance
from avsr.utils.errors import AvsrInputError


@dataclass
class SpeedPerturbConfig:
    from_epoch: int = 0  # 0 = never
    factors: list = field(default_factory=lambda: [0.9, 1.0, 1.1])

    def __post_init__(self) -> None:  # here, not in SpeedPerturb: the loop builds none when from_epoch is 0
        if int(self.from_epoch) < 0:
            raise AvsrInputError(None, f"train.speed_perturb.from_epoch must be >= 0 (0 = never), got {self.from_epoch}")
        if not self.factors or any(not 0.5 <= float(f) <= 2.0 for f in self.factors):
            raise AvsrInputError(None, f"train.speed_perturb.factors must be in [0.5, 2], got {self.factors!r}")


def _retime(frames: Optional[np.ndarray], new_len: int) -> Optional[np.ndarray]:
    """``frames`` [T, ...] → [new_len, ...] by nearest frame (video crops, DCT or labels)."""
    if frames is None or len(frames) == 0:
        return frames
    index = np.minimum(np.floor((np.arange(new_len) + 0.5) * len(frames) / new_len).astype(np.int64), len(frames) - 1)
    return frames[index]


class SpeedPerturb:
    def __init__(self, cfg: SpeedPerturbConfig) -> None:
        self.cfg = cfg
        # factor f plays f times faster: resample by (1/f) as a small rational up/down
        self.ratios = {float(f): Fraction(1.0 / float(f)).limit_denominator(40) for f in cfg.factors}

    def active(self, epoch: int) -> bool:
        return 0 < self.cfg.from_epoch <= epoch

    def __call__(self, utt: Utterance, rng: np.random.Generator) -> Utterance:
        factor = float(self.cfg.factors[int(rng.integers(len(self.cfg.factors)))])
        if factor == 1.0:
            return utt
        if utt.samples is None:
            raise AvsrInputError(None, f"speed perturbation needs waveforms: utterance {utt.id} has none")
        ratio = self.ratios[factor]
        samples = resample_poly(utt.samples.astype(np.float32), ratio.numerator, ratio.denominator)
        samples = np.clip(np.round(samples), -32768, 32767).astype(np.int16)
        fbank = compute_fbank(samples / 32768.0)
        scale = fbank.shape[0] / utt.fbank.shape[0]
        video = utt.roi
        if video is not None and len(video):
            video = _retime(video, max(1, int(round(len(video) * scale))))
        labels = utt.frame_labels
        if labels is not None and len(labels):
            labels = _retime(labels, -(-fbank.shape[0] // 4))
        return dataclasses.replace(utt, fbank=fbank, samples=samples, roi=video, frame_labels=labels,
                                   duration=utt.duration / factor)


def speed_config(values: Optional[dict]) -> SpeedPerturbConfig:
    from avsr.models.factory import dataclass_from

    return dataclass_from(SpeedPerturbConfig, values, "train.speed_perturb")
