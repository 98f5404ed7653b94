"""Synthetic speakers for the embedded corpus: an espeak voice (accent + variant), pitch,
pitch range and speaking rate, a gender, and a seed for the speaker's face.

Two protocols (``CorpusConfig.unseen_voices``):

- unseen voices (the default, :func:`make_corpus_speakers`): the voice variants are partitioned
  between the groups, so no dev, test or noise-talker voice has a training speaker's variant;
  dev and test speakers have accents (espeak base voices) that training also has (the standard
  speaker-independent condition), while the cross-accent test set ``test_unseenaccent`` reserves
  accents of its own that no other split has. "Noise talkers", who only ever appear in the test
  babble (stage 2), get variants of their own too (any accent).
- shared voices (:func:`make_speakers`, the protocol up to issue 13, kept to reproduce older
  numbers): train, dev and test draw from one pool, so every test voice shares its accent and
  variant with some training speaker; ``test_unseenaccent`` then takes the accents and
  variants that pool does not have (:func:`make_shared_corpus_speakers`).

Within a split, speakers alternate female/male and spread over the split's accents and
variants so that no two share an (accent, variant) pair while there are pairs left.
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Mapping

from avsr.corpora.synthetic.config import UNSEEN_ACCENT_SPLIT
from avsr.corpora.synthetic.espeak_tts import VoiceSpec, check_voice

# The shared-voices pools (unchanged since the first corpus: same seed, same speakers).
BASE_VOICES: tuple[str, ...] = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc")
VARIANTS: dict[str, tuple[str, ...]] = {
    "female": ("f1", "f2", "f3", "f4", "f5"),
    "male": ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"),
}
# The unseen-voices pools: every English accent espeak-ng 1.52 has (en-Shaw is a spelling, not an
# accent), and the variants whose files change formants, pitch and voicing moderately (no echo,
# whisper, heavy breath, robot/klatt synthesis or exaggerated stress), so that held-out voices
# are new but not freakish. Genders follow the variant files (pitch for those without one).
UNSEEN_BASE_VOICES: tuple[str, ...] = BASE_VOICES + ("en-gb-x-gbclan", "en-gb-x-gbcwmd")
UNSEEN_VARIANTS: dict[str, tuple[str, ...]] = {
    "female": VARIANTS["female"] + ("Annie", "aunty", "belinda", "linda", "steph", "grandma", "shelby"),
    "male": VARIANTS["male"] + ("Andy", "Denis", "Lee", "Gene", "Jacky", "Michael", "john", "robert", "quincy", "ian"),
}
# espeak parameter ranges (0-100 for pitch and range, words/minute for rate), per gender.
PITCH_RANGE: dict[str, tuple[int, int]] = {"female": (50, 80), "male": (20, 50)}
INTONATION_RANGE: tuple[int, int] = (30, 85)
RATE_RANGE: tuple[int, int] = (145, 190)
# Variants are reserved for the held-out groups first, in this order (then the rest go to train).
HELD_OUT_GROUPS: tuple[str, ...] = (UNSEEN_ACCENT_SPLIT, "test", "dev", "noise")


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
    face_seed: int  # seeds avsr.corpora.synthetic.render.sample_face_style

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


def noise_talker_id(index: int) -> str:
    """0 -> 'n01': talkers heard only in the test babble."""
    return f"n{index + 1:02d}"


def _gender(index: int) -> str:
    return "female" if index % 2 == 0 else "male"


def _least_used(options: list[str], counts: dict[str, int]) -> str:
    # ``options`` is already shuffled, so ties are broken at random (but reproducibly).
    return min(options, key=lambda o: counts.get(o, 0))


def _assign(ids: list[str], genders: list[str], bases: list[str], variants: Mapping[str, list[str]],
            rng: random.Random) -> list[SpeakerSpec]:
    """Speakers over the given pools: least-used accent, then the least-used variant of the
    speaker's gender that has not been paired with that accent yet."""
    base_counts: dict[str, int] = {}
    variant_counts: dict[str, int] = {}
    used_pairs: set[tuple[str, str]] = set()
    speakers = []
    for spk_id, gender in zip(ids, genders):
        base = _least_used(bases, base_counts)
        candidates = [v for v in variants[gender] if (base, v) not in used_pairs] or list(variants[gender])
        variant = _least_used(candidates, variant_counts)
        base_counts[base] = base_counts.get(base, 0) + 1
        variant_counts[variant] = variant_counts.get(variant, 0) + 1
        used_pairs.add((base, variant))
        speakers.append(
            SpeakerSpec(
                speaker_id=spk_id,
                base_voice=base,
                variant=variant,
                gender=gender,
                pitch=rng.randint(*PITCH_RANGE[gender]),
                pitch_range=rng.randint(*INTONATION_RANGE),
                rate=rng.randint(*RATE_RANGE),
                face_seed=rng.randrange(2**31),
            )
        )
    return speakers


def make_speakers(num_speakers: int, seed: int, verify: bool = True) -> list[SpeakerSpec]:
    """``num_speakers`` clearly distinct speakers from one shared pool, deterministic given ``seed``.

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
    ids = [speaker_id(i) for i in range(num_speakers)]
    speakers = _assign(ids, [_gender(i) for i in range(num_speakers)], bases, variants, rng)
    if verify:
        for spk in speakers:
            check_voice(spk.voice.name)
    return speakers


def _ids_and_genders(counts: Mapping[str, int], noise_talkers: int, first: int = 0) -> tuple[dict, dict]:
    """Speaker ids s01.. over the groups of ``counts`` in order (then n01.. for the noise
    talkers), genders alternating across the groups."""
    ids: dict[str, list[str]] = {}
    genders: dict[str, list[str]] = {}
    start = first
    for split, n in counts.items():
        ids[split] = [speaker_id(start + i) for i in range(n)]
        genders[split] = [_gender(start + i) for i in range(n)]
        start += n
    ids["noise"] = [noise_talker_id(i) for i in range(noise_talkers)]
    genders["noise"] = [_gender(i) for i in range(noise_talkers)]
    return ids, genders


def _reserve_variants(groups: list[str], genders: Mapping[str, list[str]],
                      free: dict[str, list[str]]) -> dict[str, dict[str, list[str]]]:
    """Take one variant per speaker of each gender for every group in ``groups`` off ``free``
    (in place; what is left stays in ``free``)."""
    pool: dict[str, dict[str, list[str]]] = {}
    for group in groups:
        pool[group] = {}
        for g in free:
            k = genders[group].count(g)
            pool[group][g], free[g] = free[g][:k], free[g][k:]
    return pool


def _check_variants(group: str, genders: list[str], pool: Mapping[str, list[str]]) -> None:
    for g in set(genders):
        if not pool.get(g):
            raise ValueError(f"no {g} voice variant left for the {group} speakers: use fewer speakers")


def _verify(groups: Mapping[str, list[SpeakerSpec]]) -> None:
    for spks in groups.values():
        for spk in spks:
            check_voice(spk.voice.name)


def make_corpus_speakers(counts: Mapping[str, int], seed: int, noise_talkers: int = 0,
                         verify: bool = True) -> dict[str, list[SpeakerSpec]]:
    """Speakers per split with unseen voices: {split: speakers} for ``counts`` (train, dev, test
    and optionally ``test_unseenaccent``, in that order; ids s01.. run over the splits in order,
    genders alternate across them) plus ``"noise"``: ``noise_talkers`` talkers n01.. for the
    test babble.

    Accents: ``test_unseenaccent`` reserves ceil(n / 2) of them; train, dev and test share the
    rest, dev and test speakers taking only accents that some training speaker has. Noise talkers
    use any accent. Variants: each held-out group (every split but train, and the noise talkers)
    reserves one per speaker of each gender, the rest go to train. Raises ValueError when the
    pools are too small for ``counts``.
    """
    if counts.get("train", 0) < 1:
        raise ValueError("unseen voices need at least one training speaker")
    rng = random.Random(f"unseen-voices:{seed}")
    bases = list(UNSEEN_BASE_VOICES)
    rng.shuffle(bases)
    variants = {g: rng.sample(v, len(v)) for g, v in UNSEEN_VARIANTS.items()}
    ids, genders = _ids_and_genders(counts, noise_talkers)

    k = math.ceil(counts.get(UNSEEN_ACCENT_SPLIT, 0) / 2)
    unseen_bases, shared_bases = bases[:k], bases[k:]
    free_variants = {g: list(v) for g, v in variants.items()}
    unknown = sorted(set(counts) - {"train", "dev", "test", UNSEEN_ACCENT_SPLIT})
    if unknown:
        raise ValueError(f"unknown speaker groups {unknown}: expected train, dev, test, {UNSEEN_ACCENT_SPLIT}")
    variant_pool = _reserve_variants([g for g in HELD_OUT_GROUPS if ids.get(g)], genders, free_variants)
    variant_pool["train"] = free_variants
    if not shared_bases or any(not free_variants[g] for g in set(genders["train"])):
        raise ValueError(
            f"too many held-out speakers for unseen voices ({dict(counts)}, {noise_talkers} noise talkers): "
            f"{len(UNSEEN_BASE_VOICES)} accents and {len(UNSEEN_VARIANTS['female'])}/{len(UNSEEN_VARIANTS['male'])} "
            "female/male variants leave none for training; use fewer dev/test speakers or unseen_voices: false")
    for group in ids:
        _check_variants(group, genders[group], variant_pool.get(group, {}))

    # Training first: dev and test then take their accents among those training has, test
    # preferring those dev does not have (more accents held out in all).
    out = {"train": _assign(ids["train"], genders["train"], shared_bases, variant_pool["train"], rng)}
    heard = [b for b in shared_bases if b in {s.base_voice for s in out["train"]}]
    for group in [*counts, "noise"]:
        if group == "train":
            continue
        if group in (UNSEEN_ACCENT_SPLIT, "noise"):
            pool = unseen_bases if group == UNSEEN_ACCENT_SPLIT else bases
        else:
            used = [s.base_voice for g in ("dev", "test") for s in out.get(g, [])]
            pool = sorted(heard, key=used.count)  # stable: the shuffled order breaks ties
        out[group] = _assign(ids[group], genders[group], pool, variant_pool.get(group, {}), rng)
    out = {group: out[group] for group in [*counts, "noise"]}
    if verify:
        _verify(out)
    return out


def make_shared_corpus_speakers(counts: Mapping[str, int], seed: int, noise_talkers: int = 0,
                                verify: bool = True) -> dict[str, list[SpeakerSpec]]:
    """The shared-voices protocol: train, dev and test speakers from :func:`make_speakers`
    (unchanged since the first corpus); ``test_unseenaccent`` (if in ``counts``, after them)
    from the accents and variants of the unseen-voices pools that the shared pool does not have,
    and not a noise talker's variant; noise talkers as with unseen voices (their own variants,
    which may still resemble a training voice here)."""
    n_unseen = counts.get(UNSEEN_ACCENT_SPLIT, 0)
    plain = {split: n for split, n in counts.items() if split != UNSEEN_ACCENT_SPLIT}
    if list(plain) != ["train", "dev", "test"]:
        raise ValueError(f"shared voices: expected splits train, dev, test[, {UNSEEN_ACCENT_SPLIT}], got {list(counts)}")
    speakers = make_speakers(sum(plain.values()), seed, verify=verify)
    out, start = {}, 0
    for split, n in plain.items():
        out[split] = speakers[start : start + n]
        start += n
    noise = make_corpus_speakers({"train": 1}, seed, noise_talkers=noise_talkers, verify=verify)["noise"]
    if n_unseen:
        rng = random.Random(f"shared-voices-unseen-accent:{seed}")
        bases = [b for b in UNSEEN_BASE_VOICES if b not in BASE_VOICES]
        rng.shuffle(bases)
        taken = {s.variant for s in noise}
        pool = {}
        for g, vs in UNSEEN_VARIANTS.items():
            left = [v for v in vs if v not in VARIANTS[g] and v not in taken]
            pool[g] = rng.sample(left, len(left))
        ids, genders = _ids_and_genders({UNSEEN_ACCENT_SPLIT: n_unseen}, 0, first=start)
        k = math.ceil(n_unseen / 2)
        if k > len(bases):
            raise ValueError(f"shared voices leave {len(bases)} accents for {UNSEEN_ACCENT_SPLIT}: use at most "
                             f"{2 * len(bases)} unseen_accent_speakers")
        variant_pool = _reserve_variants([UNSEEN_ACCENT_SPLIT], genders, pool)[UNSEEN_ACCENT_SPLIT]
        _check_variants(UNSEEN_ACCENT_SPLIT, genders[UNSEEN_ACCENT_SPLIT], variant_pool)
        out[UNSEEN_ACCENT_SPLIT] = _assign(ids[UNSEEN_ACCENT_SPLIT], genders[UNSEEN_ACCENT_SPLIT], bases[:k], variant_pool, rng)
        if verify:
            _verify({UNSEEN_ACCENT_SPLIT: out[UNSEEN_ACCENT_SPLIT]})
    out["noise"] = noise
    return out
