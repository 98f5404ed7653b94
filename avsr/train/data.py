"""Data for the E2E models: features-attached lhotse cuts → padded AV batches.

The corpus is small (the default preset is ~1 h of 25 fps video), so every cut's fbank and mouth
crops are loaded once into memory (:class:`FeatureCache`) and batches are cut from there; this
keeps a CPU epoch from being dominated by lilcom/HDF5 reads.

Cuts of an audio-only corpus carry no ``mouth_roi`` array: their utterances have no crops and
their batches an empty video tensor (0 frames), which the audio-only model (fusion ``audio``)
never reads. A model that reads video checks the cache first (:meth:`FeatureCache.check_video`,
or ``FeatureCache(..., fusion=...)``) and fails with a one-line error naming the cut.

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
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import numpy as np
import torch
from lhotse import CutSet
from tqdm import tqdm

from avsr.models.e2e_base import Batch
from avsr.sync.shift import load_video_array
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


@dataclass
class Utterance:
    id: str
    fbank: np.ndarray  # [T, 80] float32
    roi: Optional[np.ndarray]  # [Tv, S, S] uint8 crops or [Tv, K] float32 DCT; None: no video (audio-only corpus)
    text: str
    duration: float
    phones: Optional[list[str]] = None  # the supervision's phone alignment, when the corpus has one
    speaker: Optional[str] = None
    samples: Optional[np.ndarray] = None  # int16 waveform (16 kHz), only for on-the-fly noise
    frame_labels: Optional[np.ndarray] = None  # int [T/4] per-encoder-frame class (auxiliary CE), -1 = none


def supervision_phones(cut) -> Optional[list[str]]:
    """The phone symbols of the cut's first supervision's ``phone`` alignment (None if absent)."""
    alignment = cut.supervisions[0].alignment or {}
    items = alignment.get("phone")
    return [item.symbol for item in items] if items else None


def utterance_tokenizer(tokenizer) -> Callable[["Utterance"], list[int]]:
    """Utterance → target ids: the tokenizer's ``encode(text, phones)`` (phone units use the
    utterance's own phone alignment when it has one)."""
    return lambda u: tokenizer.encode(u.text, u.phones)


def cuts_path(data_dir: PathLike, corpus: str, subset: str) -> Path:
    """The stage-3 manifest of one subset, e.g. data/fbank/synthetic_grid_cuts_test_babble_snr0.jsonl.gz."""
    return Path(data_dir) / "fbank" / f"{corpus}_cuts_{subset}.jsonl.gz"


def load_cuts(path: PathLike) -> CutSet:
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "cut manifest not found: run stages 0-3 first")
    return CutSet.from_file(path)


VIDEO_INPUTS = {"pixels": "mouth_roi", "dct": "roi_dct"}  # video_input → the stage-3 array it reads


def has_mouth_roi(cut) -> bool:
    """Whether stage 3 stored mouth crops for the cut (False for audio-only corpora)."""
    return cut.has_custom("mouth_roi")  # lhotse looks into a MixedCut's tracks too


class FeatureCache:
    """All utterances of some cut sets, loaded once: id → :class:`Utterance`.

    ``fusion``: the front-end fusion of the model the cache feeds; every fusion but ``audio``
    needs video, and a cut without crops is then an error (:meth:`check_video`). ``source``
    names the cut set in that error. ``video_input``: what ``Utterance.roi`` holds — ``pixels``
    (the ``mouth_roi`` crops) or ``dct`` (the ``roi_dct`` coefficients). ``load_audio``: keep the
    waveforms too (on-the-fly noise)."""

    def __init__(self, cuts: Iterable, desc: str = "load features", fusion: Optional[str] = None,
                 source: Optional[PathLike] = None, load_audio: bool = False, video_input: str = "pixels") -> None:
        if video_input not in VIDEO_INPUTS:
            raise ValueError(f"video_input must be one of {tuple(VIDEO_INPUTS)}, got {video_input!r}")
        self.video_input = video_input
        self.utts: dict[str, Utterance] = {}
        for cut in tqdm(list(cuts), desc=desc, leave=False):
            if not cut.supervisions:
                raise AvsrInputError(None, f"cut {cut.id} has no supervision")
            try:
                fbank = cut.load_features().astype(np.float32)
                roi = None
                if has_mouth_roi(cut):
                    roi = np.ascontiguousarray(load_video_array(cut, VIDEO_INPUTS[video_input]))
                    if video_input == "dct":
                        roi = roi.astype(np.float32)
            except (AttributeError, KeyError) as err:
                raise AvsrInputError(None, f"cut {cut.id}: missing features ({err}): re-run stage 3") from None
            except FileNotFoundError as err:  # storage paths are relative to the recipe directory
                raise AvsrInputError(err.filename, f"feature storage of cut {cut.id} not found (run from the "
                                     "recipe directory the manifests were written in, or re-run stage 3)") from None
            sup = cut.supervisions[0]
            samples = None
            if load_audio:  # int16 keeps 3 s of 16 kHz audio at 96 kB
                audio = cut.load_audio() if cut.has_recording else None
                if audio is None:
                    raise AvsrInputError(source, f"cut {cut.id} has no audio to mix noise into: on-the-fly noise "
                                         "needs the clean training cuts (--train-set train), not a pre-mixed set")
                samples = np.clip(np.round(audio[0] * 32768.0), -32768, 32767).astype(np.int16)
            self.utts[cut.id] = Utterance(cut.id, fbank, roi, sup.text or "", float(cut.duration),
                                          supervision_phones(cut), sup.speaker, samples)
        if fusion is not None:
            self.check_video(fusion, source)

    def __len__(self) -> int:
        return len(self.utts)

    def ids(self) -> list[str]:
        return sorted(self.utts)

    def without_video(self) -> list[str]:
        """Sorted ids of the utterances that have no mouth crops."""
        return [i for i in self.ids() if self.utts[i].roi is None]

    def check_video(self, fusion: str, source: Optional[PathLike] = None) -> None:
        """Raise :class:`AvsrInputError` when a model of this ``fusion`` needs video (every
        fusion but ``audio``) and some utterance has none."""
        missing = self.without_video() if fusion != "audio" else []
        if missing:
            raise AvsrInputError(source, f"{len(missing)} of {len(self)} cuts have no video (no mouth_roi; first: "
                                 f"{missing[0]}), but a fusion {fusion!r} model needs video: on an audio-only corpus "
                                 "train fusion 'audio' (--modality audio)")

    def normalisation_stats(self, max_utts: int = 500) -> tuple[torch.Tensor, torch.Tensor, Any, Any]:
        """Global fbank mean/std per bin and video mean/std over (a prefix of the sorted ids of)
        the cache: deterministic. Video: pixel mean/std of the crops in [0, 1] (floats), or per
        coefficient for DCT input (tensors). Without any video (audio-only) the identity (0, 1),
        which nothing then uses."""
        ids = self.ids()[:max_utts]
        fb = np.concatenate([self.utts[i].fbank for i in ids]).astype(np.float64)
        videos = [self.utts[i].roi for i in ids if self.utts[i].roi is not None]
        v_mean, v_std = 0.0, 1.0
        if videos and self.video_input == "dct":
            v = np.concatenate(videos).astype(np.float64)
            v_mean, v_std = torch.tensor(v.mean(0), dtype=torch.float32), torch.tensor(v.std(0), dtype=torch.float32)
        elif videos:
            px = np.concatenate([c.reshape(-1) for c in videos]).astype(np.float64) / 255.0
            v_mean, v_std = float(px.mean()), float(px.std())
        return (torch.tensor(fb.mean(0), dtype=torch.float32), torch.tensor(fb.std(0), dtype=torch.float32),
                v_mean, v_std)


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
                 video_fill: Union[int, torch.Tensor] = 0) -> tuple[torch.Tensor, torch.Tensor]:
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
            audio_fill: Optional[torch.Tensor] = None, video_fill: Union[int, torch.Tensor] = 0) -> Batch:
    """Pad a list of utterances into a :class:`Batch` (``tokenize``: utterance → ids, see
    :func:`utterance_tokenizer`); ``augment``
    masks each utterance (fill values: see :class:`SpecAugment`). Utterances without crops get
    0 video frames (a batch of only those: an empty [B, 0, 0, 0] video tensor)."""
    b = len(utts)
    t_max = max(u.fbank.shape[0] for u in utts)
    crops = [u.roi for u in utts if u.roi is not None]
    tv_max = max((r.shape[0] for r in crops), default=0)
    f = utts[0].fbank.shape[1]
    frame_shape = tuple(crops[0].shape[1:]) if crops else (0, 0)  # (S, S) crops or (K,) DCT
    v_dtype = torch.from_numpy(crops[0][:0]).dtype if crops else torch.uint8
    audio = torch.zeros(b, t_max, f)
    video = torch.zeros(b, tv_max, *frame_shape, dtype=v_dtype)
    no_video = torch.zeros(0, *frame_shape, dtype=v_dtype)
    for i, u in enumerate(utts):
        a = torch.from_numpy(u.fbank)
        v = torch.from_numpy(u.roi) if u.roi is not None else no_video
        if augment is not None:
            a, v = augment(a, v, audio_fill, video_fill)
        audio[i, : a.shape[0]] = a
        video[i, : v.shape[0]] = v
    labels = None
    if any(u.frame_labels is not None for u in utts):
        n = max(len(u.frame_labels) for u in utts if u.frame_labels is not None)
        labels = torch.full((b, n), -1, dtype=torch.long)
        for i, u in enumerate(utts):
            if u.frame_labels is not None:
                labels[i, : len(u.frame_labels)] = torch.from_numpy(u.frame_labels.astype(np.int64))
    return Batch(
        ids=[u.id for u in utts],
        audio=audio,
        audio_lengths=torch.tensor([u.fbank.shape[0] for u in utts]),
        video=video,
        video_lengths=torch.tensor([u.roi.shape[0] if u.roi is not None else 0 for u in utts]),
        tokens=[tokenize(u) for u in utts] if tokenize is not None else [],
        texts=[u.text for u in utts],
        frame_labels=labels,
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
        num_buckets = max(1, min(num_buckets, len(cuts)))  # a tiny corpus has fewer cuts than buckets
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
