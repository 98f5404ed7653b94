"""Stage 2: noisy copies of cut sets at fixed SNRs (white noise and babble); the video stays clean.

Noise sources are ordinary recordings under ``data/noise/`` (white noise generated from the
seed; babble = sums of several other speakers' utterances), so every noisy cut is a lhotse
MixedCut that anyone can re-mix, listen to, or compute features from.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

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

    @property
    def name(self) -> str:
        """e.g. ``babble_snr-5``, ``white_snr10``."""
        return f"{self.noise_type}_snr{self.snr_db:g}"


def parse_conditions(noise_types: Sequence[str], snrs: Sequence[float]) -> list[NoiseCondition]:
    for t in noise_types:
        if t not in NOISE_TYPES:
            raise ValueError(f"unknown noise type {t!r}; choose from {NOISE_TYPES}")
    return [NoiseCondition(t, float(s)) for t in noise_types for s in snrs]


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
    candidates = sorted((r for r in noise if r.id.startswith(condition.noise_type)), key=lambda r: r.id)
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
