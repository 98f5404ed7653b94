"""Synthetic speakers for the embedded corpus: an espeak voice (accent + variant), pitch,
pitch range and speaking rate, a gender, and a seed for the speaker's face.

Speakers alternate female/male and spread over the accents and voice variants so that no
two share an (accent, variant) pair while there are pairs left.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from avsr.data.espeak_tts import VoiceSpec, check_voice

BASE_VOICES: tuple[str, ...] = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc")
VARIANTS: dict[str, tuple[str, ...]] = {
    "female": ("f1", "f2", "f3", "f4", "f5"),
    "male": ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"),
}
# espeak parameter ranges (0-100 for pitch and range, words/minute for rate), per gender.
PITCH_RANGE: dict[str, tuple[int, int]] = {"female": (50, 80), "male": (20, 50)}
INTONATION_RANGE: tuple[int, int] = (30, 85)
RATE_RANGE: tuple[int, int] = (145, 190)


@dataclass(frozen=True)
class SpeakerSpec:
    """One synthetic speaker."""

    speaker_id: str  # "s01"
    base_voice: str  # espeak voice, e.g. "en-gb-scotland"
    variant: str  # espeak variant, e.g. "f3"
    gender: str  # "female" | "male"
    pitch: int
    pitch_range: int
    rate: int
    face_seed: int  # seeds avsr.video.render.sample_face_style

    @property
    def voice(self) -> VoiceSpec:
        return VoiceSpec(name=f"{self.base_voice}+{self.variant}", rate=self.rate, pitch=self.pitch, pitch_range=self.pitch_range)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["voice_name"] = self.voice.name
        return d


def speaker_id(index: int) -> str:
    """0 -> 's01' (GRID's naming; three digits past 99)."""
    return f"s{index + 1:02d}"


def _least_used(options: list[str], counts: dict[str, int]) -> str:
    # ``options`` is already shuffled, so ties are broken at random (but reproducibly).
    return min(options, key=lambda o: counts.get(o, 0))


def make_speakers(num_speakers: int, seed: int, verify: bool = True) -> list[SpeakerSpec]:
    """``num_speakers`` clearly distinct speakers, deterministic given ``seed``.

    Genders alternate (s01 female, s02 male, ...); each new speaker takes the least-used
    accent and the least-used variant of its gender, so voices repeat only when the
    accent x variant grid is exhausted. With ``verify`` every voice name is checked in
    espeak-ng (a bad name would otherwise silently keep the previous voice).
    """
    if num_speakers < 1:
        raise ValueError(f"num_speakers must be >= 1, got {num_speakers}")
    rng = random.Random(f"speakers:{seed}")
    bases = list(BASE_VOICES)
    rng.shuffle(bases)
    variants = {g: rng.sample(v, len(v)) for g, v in VARIANTS.items()}
    base_counts: dict[str, int] = {}
    variant_counts: dict[str, int] = {}
    used_pairs: set[tuple[str, str]] = set()
    speakers = []
    for i in range(num_speakers):
        gender = "female" if i % 2 == 0 else "male"
        base = _least_used(bases, base_counts)
        candidates = [v for v in variants[gender] if (base, v) not in used_pairs] or variants[gender]
        variant = _least_used(candidates, variant_counts)
        base_counts[base] = base_counts.get(base, 0) + 1
        variant_counts[variant] = variant_counts.get(variant, 0) + 1
        used_pairs.add((base, variant))
        speakers.append(
            SpeakerSpec(
                speaker_id=speaker_id(i),
                base_voice=base,
                variant=variant,
                gender=gender,
                pitch=rng.randint(*PITCH_RANGE[gender]),
                pitch_range=rng.randint(*INTONATION_RANGE),
                rate=rng.randint(*RATE_RANGE),
                face_seed=rng.randrange(2**31),
            )
        )
    if verify:
        for spk in speakers:
            check_voice(spk.voice.name)
    return speakers
