"""Data for the E2E models: features-attached lhotse cuts → padded AV batches.

The corpus is small (the default preset is ~1 h of 25 fps video), so every cut's fbank and mouth
crops are loaded once into memory (:class:`FeatureCache`) and batches are cut from there; this
keeps a CPU epoch from being dominated by lilcom/HDF5 reads.

Samplers (chosen by ``sampler`` in the config):
- ``bucketing``: lhotse ``DynamicBucketingSampler`` (``max_duration`` seconds per batch per rank,
  duration buckets, shuffled with ``seed``; ``set_epoch`` reshuffles deterministically);
- ``fixed``: a plain shuffled sampler with ``batch_size`` utterances per rank. Global batch g is
  the same set of cuts for any world size (rank r takes every world_size-th cut of it), which is
  what makes a 2-process DDP run comparable step by step with 1 process and a doubled batch.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np
import torch
from lhotse import CutSet
from tqdm import tqdm

from avsr.models.e2e_base import Batch
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


@dataclass
class Utterance:
    id: str
    fbank: np.ndarray  # [T, 80] float32
    roi: np.ndarray  # [Tv, S, S] uint8
    text: str
    duration: float


def cuts_path(data_dir: PathLike, corpus: str, subset: str) -> Path:
    """The stage-3 manifest of one subset, e.g. data/fbank/synthetic_grid_cuts_test_babble_snr0.jsonl.gz."""
    return Path(data_dir) / "fbank" / f"{corpus}_cuts_{subset}.jsonl.gz"


def load_cuts(path: PathLike) -> CutSet:
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "cut manifest not found: run stages 0-3 first")
    return CutSet.from_file(path)


class FeatureCache:
    """All utterances of some cut sets, loaded once: id → :class:`Utterance`."""

    def __init__(self, cuts: Iterable, desc: str = "load features") -> None:
        self.utts: dict[str, Utterance] = {}
        for cut in tqdm(list(cuts), desc=desc, leave=False):
            if not cut.supervisions:
                raise AvsrInputError(None, f"cut {cut.id} has no supervision")
            try:
                fbank = cut.load_features().astype(np.float32)
                roi = cut.load_mouth_roi()
            except (AttributeError, KeyError) as err:
                raise AvsrInputError(None, f"cut {cut.id}: missing features ({err}): re-run stage 3") from None
            except FileNotFoundError as err:  # storage paths are relative to the recipe directory
                raise AvsrInputError(err.filename, f"feature storage of cut {cut.id} not found (run from the "
                                     "recipe directory the manifests were written in, or re-run stage 3)") from None
            self.utts[cut.id] = Utterance(cut.id, fbank, np.ascontiguousarray(roi), cut.supervisions[0].text or "",
                                          float(cut.duration))

    def __len__(self) -> int:
        return len(self.utts)

    def ids(self) -> list[str]:
        return sorted(self.utts)

    def normalisation_stats(self, max_utts: int = 500) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        """Global fbank mean/std per bin and crop pixel mean/std (in [0, 1]) over (a prefix of the
        sorted ids of) the cache: deterministic."""
        ids = self.ids()[:max_utts]
        fb = np.concatenate([self.utts[i].fbank for i in ids]).astype(np.float64)
        px = np.concatenate([self.utts[i].roi.reshape(-1) for i in ids]).astype(np.float64) / 255.0
        return (torch.tensor(fb.mean(0), dtype=torch.float32), torch.tensor(fb.std(0), dtype=torch.float32),
                float(px.mean()), float(px.std()))


@dataclass
class SpecAugment:
    """Training-time masking (Park et al. 2019): frequency and time masks on fbank, time masks on
    video frames. Masked fbank bins take ``audio_fill`` (the training mean: 0 after CMVN, as
    SpecAugment intends), masked video frames ``video_fill`` (mean grey level). Uses torch's
    global RNG (the loop seeds it per epoch)."""

    freq_masks: int = 2
    freq_width: int = 15
    time_masks: int = 2
    time_width: int = 20
    video_time_masks: int = 1
    video_time_width: int = 5

    def __call__(self, audio: torch.Tensor, video: torch.Tensor, audio_fill: Optional[torch.Tensor] = None,
                 video_fill: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        audio = audio.clone()
        fill = torch.zeros(audio.shape[1]) if audio_fill is None else audio_fill
        t, f = audio.shape
        for _ in range(self.freq_masks):
            w = int(torch.randint(0, self.freq_width + 1, ()))
            s = int(torch.randint(0, max(1, f - w), ()))
            audio[:, s : s + w] = fill[s : s + w]
        for _ in range(self.time_masks):
            w = int(torch.randint(0, min(self.time_width, t // 5) + 1, ()))
            s = int(torch.randint(0, max(1, t - w), ()))
            audio[s : s + w, :] = fill
        if self.video_time_masks:
            video = video.clone()
            tv = video.shape[0]
            for _ in range(self.video_time_masks):
                w = int(torch.randint(0, min(self.video_time_width, tv // 5) + 1, ()))
                s = int(torch.randint(0, max(1, tv - w), ()))
                video[s : s + w] = video_fill
        return audio, video


def collate(utts: Sequence[Utterance], tokenize=None, augment: Optional[SpecAugment] = None,
            audio_fill: Optional[torch.Tensor] = None, video_fill: int = 0) -> Batch:
    """Pad a list of utterances into a :class:`Batch` (``tokenize``: text → ids); ``augment``
    masks each utterance (fill values: see :class:`SpecAugment`)."""
    b = len(utts)
    t_max = max(u.fbank.shape[0] for u in utts)
    tv_max = max(u.roi.shape[0] for u in utts)
    f = utts[0].fbank.shape[1]
    s1, s2 = utts[0].roi.shape[1:]
    audio = torch.zeros(b, t_max, f)
    video = torch.zeros(b, tv_max, s1, s2, dtype=torch.uint8)
    for i, u in enumerate(utts):
        a, v = torch.from_numpy(u.fbank), torch.from_numpy(u.roi)
        if augment is not None:
            a, v = augment(a, v, audio_fill, video_fill)
        audio[i, : a.shape[0]] = a
        video[i, : v.shape[0]] = v
    return Batch(
        ids=[u.id for u in utts],
        audio=audio,
        audio_lengths=torch.tensor([u.fbank.shape[0] for u in utts]),
        video=video,
        video_lengths=torch.tensor([u.roi.shape[0] for u in utts]),
        tokens=[tokenize(u.text) for u in utts] if tokenize is not None else [],
        texts=[u.text for u in utts],
    )


def fixed_batches(ids: Sequence[str], batch_size: int, epoch: int, seed: int, world_size: int = 1, rank: int = 0,
                  shuffle: bool = True, drop_last: bool = True) -> list[list[str]]:
    """Shuffled batches of ``batch_size`` per rank; global batch g = the same cuts for any world size."""
    order = sorted(ids)
    if shuffle:
        random.Random(seed * 100003 + epoch).shuffle(order)
    glob = batch_size * world_size
    batches = []
    for start in range(0, len(order), glob):
        chunk = order[start : start + glob]
        if len(chunk) < glob and (drop_last or len(chunk) < world_size):
            break
        batches.append(chunk[rank::world_size])
    return batches


def bucketing_batches(cuts: CutSet, max_duration: float, num_buckets: int, epoch: int, seed: int,
                      world_size: int = 1, rank: int = 0) -> list[list[str]]:
    """lhotse DynamicBucketingSampler batches (cut ids) for one epoch on one rank."""
    import warnings

    from lhotse.dataset import DynamicBucketingSampler

    with warnings.catch_warnings():  # "eagerly read CutSet": intended, the cut list is tiny
        warnings.simplefilter("ignore", UserWarning)
        sampler = DynamicBucketingSampler(cuts, max_duration=max_duration, num_buckets=num_buckets, shuffle=True,
                                          drop_last=False, seed=seed, world_size=world_size, rank=rank)
        sampler.set_epoch(epoch)
        return [[c.id for c in batch] for batch in sampler]


def eval_batches(cache: FeatureCache, max_duration: float) -> list[list[str]]:
    """Deterministic decode/validation batches: ids sorted by duration, packed up to max_duration."""
    order = sorted(cache.ids(), key=lambda i: (cache.utts[i].duration, i))
    batches, cur, dur = [], [], 0.0
    for i in order:
        d = cache.utts[i].duration
        if cur and dur + d > max_duration:
            batches.append(cur)
            cur, dur = [], 0.0
        cur.append(i)
        dur += d
    if cur:
        batches.append(cur)
    return batches
