"""Stage 2: noisy copies of cut sets at fixed SNRs (white noise and babble); the video stays clean.

Noise sources are ordinary recordings under ``data/noise/`` (white noise generated from a
seed; babble = sums of several talkers' utterances), so every noisy cut is a lhotse MixedCut
that anyone can re-mix, listen to, or compute features from.

Training and test noise are disjoint (issue 13): the training noise (babble of training
talkers, white noise from training seeds) is what ``train_multi`` and on-the-fly mixing use;
the test noise is babble of talkers never used in training and white noise from other seeds
("unmatched", the default test sets). Test sets mixed with the training noise are "matched"
(``<split>_<type>matched_snr<N>``) and show how much a matched-noise protocol flatters a system.

Noise recording sets (lhotse ``RecordingSet``, ``data/noise/{train,test}_noise_recordings.jsonl.gz``):
one 16 kHz mono PCM16 wav per recording, id ``<type>_<role>_<NN>`` with type ``babble`` or
``white`` and role ``train`` or ``test``; babble tracks are 30 s (``babble.duration_s``) sums of
``babble.num_talkers`` equal-RMS streams of whole utterances, white tracks 60 s of Gaussian
noise; every track is scaled to RMS 0.1. ``NoiseBank`` loads such a set once and cuts random
segments from it; ``mix_at_snr`` mixes like lhotse's ``cut.mix(..., snr=...)``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import soundfile as sf
from lhotse import CutSet, Recording, RecordingSet
from lhotse.cut import Cut

from avsr.utils.io import atomic_path
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
NOISE_TYPES = ("white", "babble")


@dataclass(frozen=True)
class NoiseCondition:
    noise_type: str
    snr_db: float
    matched: bool = False  # mixed with the training noise (a "matched" test set)

    @property
    def name(self) -> str:
        """e.g. ``babble_snr-5``, ``white_snr10``, ``babblematched_snr0``."""
        return f"{self.noise_type}{'matched' if self.matched else ''}_snr{self.snr_db:g}"


def parse_conditions(noise_types: Sequence[str], snrs: Sequence[float], matched: bool = False) -> list[NoiseCondition]:
    for t in noise_types:
        if t not in NOISE_TYPES:
            raise ValueError(f"unknown noise type {t!r}; choose from {NOISE_TYPES}")
    return [NoiseCondition(t, float(s), matched) for t in noise_types for s in snrs]


def _write_wav(path: Path, samples: np.ndarray, sampling_rate: int) -> None:
    with atomic_path(path) as tmp:
        sf.write(tmp, samples, sampling_rate, subtype="PCM_16", format="WAV")


def make_white_noise(out_path: PathLike, duration: float, sampling_rate: int, seed: int) -> Recording:
    out_path = Path(out_path)
    if not out_path.is_file():
        rng = np.random.default_rng(seed)
        samples = (0.1 * rng.standard_normal(int(duration * sampling_rate))).clip(-1, 1).astype(np.float32)
        _write_wav(out_path, samples, sampling_rate)
    return Recording.from_file(out_path, recording_id=out_path.stem)


def make_babble(
    out_path: PathLike,
    source_cuts: CutSet,
    num_talkers: int,
    duration: float,
    sampling_rate: int,
    seed: int,
) -> Recording:
    """Sum ``num_talkers`` streams, each a chain of random utterances at equal RMS."""
    out_path = Path(out_path)
    if not out_path.is_file():
        rng = random.Random(seed)
        pool = sorted(source_cuts.ids)
        if not pool:
            raise AvsrInputError(out_path, "babble needs source utterances (the babble source split is empty)")
        by_id = {c.id: c for c in source_cuts}
        total = int(duration * sampling_rate)
        mix = np.zeros(total, dtype=np.float64)
        for _ in range(num_talkers):
            stream = []
            length = rng.randrange(0, sampling_rate)  # staggered starts so talkers do not pause together
            stream.append(np.zeros(length))
            while length < total:
                audio = by_id[rng.choice(pool)].load_audio()[0].astype(np.float64)
                audio /= np.sqrt(np.mean(audio**2)) + 1e-9
                stream.append(audio)
                length += len(audio)
            mix += np.concatenate(stream)[:total]
        mix *= 0.1 / (np.sqrt(np.mean(mix**2)) + 1e-9)
        _write_wav(out_path, mix.clip(-1, 1).astype(np.float32), sampling_rate)
    return Recording.from_file(out_path, recording_id=out_path.stem)


def mix_condition(cuts: CutSet, noise: RecordingSet, condition: NoiseCondition, seed: int) -> CutSet:
    """Each cut mixed with a random stretch of a random noise recording of the condition's type.

    The noise segment is chosen by a generator seeded from (seed, condition, cut id), so a cut
    gets the same noise whatever else is in the set. Cut ids get the condition appended.
    """
    candidates = sorted((r for r in noise if r.id.startswith(condition.noise_type + "_")), key=lambda r: r.id)
    if not candidates:
        raise ValueError(f"no noise recordings of type {condition.noise_type!r}")
    mixed = []
    for cut in cuts:
        rng = random.Random(f"{seed}/{condition.name}/{cut.id}")
        rec = rng.choice(candidates)
        if rec.duration < cut.duration:
            raise ValueError(f"noise recording {rec.id} ({rec.duration:.1f} s) is shorter than cut {cut.id}")
        offset = round(rng.uniform(0, rec.duration - cut.duration), 3)
        noise_cut = rec.to_cut().truncate(offset=offset, duration=cut.duration, preserve_id=True)
        mixed.append(cut.mix(noise_cut, snr=condition.snr_db, preserve_id="left").with_id(f"{cut.id}_{condition.name}"))
    return CutSet.from_cuts(mixed)


def multi_condition(cuts: CutSet, noise: RecordingSet, conditions: Sequence[NoiseCondition], clean_prob: float, seed: int) -> CutSet:
    """A multi-condition training set: each cut clean with ``clean_prob``, else one random condition."""
    out: list[Cut] = []
    for cut in cuts:
        rng = random.Random(f"{seed}/multi/{cut.id}")
        if rng.random() < clean_prob:
            out.append(cut)
        else:
            cond = rng.choice(list(conditions))
            out.extend(mix_condition(CutSet.from_cuts([cut]), noise, cond, seed))
    return CutSet.from_cuts(out)


def measured_snr(cut: Cut) -> float:
    """SNR of a two-track mix, measured on its audio (for checks and reports)."""
    speech = cut.tracks[0].cut.load_audio()[0]
    total = cut.load_audio()[0]
    noise = total[: len(speech)] - speech
    return float(10 * np.log10(np.mean(speech**2) / np.mean(noise**2)))


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech + g * noise`` with g such that the mean-square ratio is ``snr_db`` (as lhotse's
    ``cut.mix(..., snr=...)``: energies over the whole signals). Same shape as ``speech``."""
    if noise.shape != speech.shape:
        raise ValueError(f"noise shape {noise.shape} != speech shape {speech.shape}")
    e_speech = float(np.mean(np.square(speech, dtype=np.float64)))
    e_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    if e_noise <= 0.0:
        return speech.copy()
    gain = np.sqrt(e_speech / (e_noise * 10.0 ** (snr_db / 10.0)))
    return (speech + gain * noise).astype(speech.dtype, copy=False)


class NoiseBank:
    """A noise RecordingSet held in memory, for on-the-fly mixing (fresh noise per utterance and
    epoch): ``NoiseBank.from_file("data/noise/train_noise_recordings.jsonl.gz")``.

    ``segment`` draws a random recording (of one type, or of any) and a random stretch of it;
    the caller's ``random.Random`` makes it reproducible (seed it from epoch and cut id).
    """

    def __init__(self, recordings: RecordingSet, sampling_rate: int = 16000):
        self.audio: dict[str, np.ndarray] = {}
        for rec in sorted(recordings, key=lambda r: r.id):
            if rec.sampling_rate != sampling_rate:
                raise AvsrInputError(rec.id, f"noise recording at {rec.sampling_rate} Hz, expected {sampling_rate} Hz")
            self.audio[rec.id] = rec.load_audio()[0].astype(np.float32)
        if not self.audio:
            raise AvsrInputError(None, "empty noise recording set")
        self.sampling_rate = sampling_rate

    @classmethod
    def from_file(cls, path: PathLike, sampling_rate: int = 16000) -> "NoiseBank":
        return cls(RecordingSet.from_file(path), sampling_rate)

    @property
    def noise_types(self) -> list[str]:
        return sorted({rid.split("_")[0] for rid in self.audio})

    def segment(self, num_samples: int, rng: random.Random, noise_type: Optional[str] = None) -> tuple[str, np.ndarray]:
        """(recording id, float32 [num_samples]) from a random recording and offset; recordings
        shorter than ``num_samples`` are tiled."""
        ids = [rid for rid in self.audio if noise_type is None or rid.startswith(noise_type + "_")]
        if not ids:
            raise ValueError(f"no noise recordings of type {noise_type!r} (have {self.noise_types})")
        rid = rng.choice(ids)
        audio = self.audio[rid]
        if len(audio) < num_samples:
            audio = np.tile(audio, -(-num_samples // len(audio)))
        start = rng.randrange(0, len(audio) - num_samples + 1)
        return rid, audio[start : start + num_samples]
