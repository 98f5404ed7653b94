"""Size and rendering settings of the embedded synthetic GRID corpus (conf/corpus_*.yaml)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Union

import yaml

from avsr.utils.errors import AvsrInputError

SPLITS: tuple[str, ...] = ("train", "dev", "test")
# The cross-accent test set: speakers whose accent (and voice variant) training never heard
# (``unseen_accent_speakers``); ``test`` keeps the standard speaker-independent condition.
UNSEEN_ACCENT_SPLIT = "test_unseenaccent"
PRESET_DIR = Path(__file__).resolve().parents[3] / "conf"


@dataclass(frozen=True)
class CorpusConfig:
    """How many speakers per split, how many sentences each, and the clip format."""

    train_speakers: int = 6
    dev_speakers: int = 2
    test_speakers: int = 2
    utts_per_speaker: int = 160
    video_size: int = 128  # square grayscale face crop, pixels
    fps: int = 25
    # Leading/trailing silence, drawn per utterance (GRID clips are 3 s around ~1.5-2 s of speech).
    pad_min: float = 0.3
    pad_max: float = 0.5
    # Gaussian noise floor added to the whole clip (linear amplitude; 1e-4 ~ -80 dBFS), so
    # silences are not digital zeros.
    noise_floor: float = 1e-4
    # Voices of dev/test speakers are unseen: a voice variant no training speaker has, with an
    # accent (espeak base voice) that training also has (False: the shared-voice protocol before
    # issue 13, to reproduce older numbers).
    unseen_voices: bool = True
    # Speakers of the clean test set test_unseenaccent (0: no such set): neither their accent nor
    # their variant is heard in training, dev or test (with unseen_voices, dev/test speakers have
    # accents that training also has). Same sentences per speaker, grammar and video as the others.
    unseen_accent_speakers: int = 3
    # Talkers heard only in the test babble (stage 2), audio only: test noise never comes from
    # training talkers. 0: none (stage 2 then takes held-out dev speakers for the test babble).
    noise_talkers: int = 8
    noise_talker_utts: int = 20
    # Lip dynamics of real talkers in the rendered video (False: keyframes at the audio's phone
    # centres, the near-oracle video before issue 13): the lips lead the audio by a per-speaker,
    # per-utterance lead in [lip_lead_min_ms, lip_lead_max_ms], anticipatory coarticulation,
    # per-speaker articulation strength and lip inertia (avsr.corpora.synthetic.render).
    lip_dynamics: bool = True
    lip_lead_min_ms: float = 40.0
    lip_lead_max_ms: float = 120.0

    def speakers_per_split(self) -> dict[str, int]:
        """Speakers of every split stage 0 writes, in speaker-id order (s01.. run over them)."""
        counts = {"train": self.train_speakers, "dev": self.dev_speakers, "test": self.test_speakers}
        if self.unseen_accent_speakers:
            counts[UNSEEN_ACCENT_SPLIT] = self.unseen_accent_speakers
        return counts

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.speakers_per_split())

    @property
    def num_speakers(self) -> int:
        return sum(self.speakers_per_split().values())

    def validate(self, source: Union[str, Path, None] = None) -> "CorpusConfig":
        problems = []
        if self.train_speakers < 1:
            problems.append("train_speakers must be >= 1")
        if self.dev_speakers < 0 or self.test_speakers < 0 or self.unseen_accent_speakers < 0:
            problems.append("dev_speakers/test_speakers/unseen_accent_speakers must be >= 0")
        if not 1 <= self.utts_per_speaker <= 64000:
            problems.append("utts_per_speaker must be in 1..64000 (the GRID grammar has 64000 sentences)")
        if self.video_size < 16 or self.video_size % 2:
            problems.append("video_size must be an even number >= 16 (H.264 yuv420p)")
        if self.fps < 1 or 16000 % self.fps:
            problems.append("fps must divide 16000 (whole audio samples per frame)")
        if not 0 <= self.pad_min <= self.pad_max:
            problems.append("need 0 <= pad_min <= pad_max")
        if self.noise_floor < 0:
            problems.append("noise_floor must be >= 0")
        if self.noise_talkers < 0 or (self.noise_talkers and self.noise_talker_utts < 1):
            problems.append("noise_talkers must be >= 0, and noise_talker_utts >= 1 when there are noise talkers")
        if not 0 <= self.lip_lead_min_ms <= self.lip_lead_max_ms <= 300:
            problems.append("need 0 <= lip_lead_min_ms <= lip_lead_max_ms <= 300")
        for name in ("unseen_voices", "lip_dynamics"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be true or false")
        if problems:
            raise AvsrInputError(source, "bad corpus config: " + "; ".join(problems))
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def load_corpus_config(path: Union[str, Path]) -> CorpusConfig:
    """Read a YAML corpus config; unknown keys are an error (typos should not pass silently)."""
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "corpus config not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise AvsrInputError(path, f"not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise AvsrInputError(path, "corpus config must be a mapping")
    known = {f.name for f in fields(CorpusConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise AvsrInputError(path, f"unknown corpus config keys {unknown}; known: {sorted(known)}")
    try:
        return CorpusConfig(**data).validate(path)
    except TypeError as err:
        raise AvsrInputError(path, str(err)) from None


def preset_path(name: str) -> Path:
    """conf/corpus_<name>.yaml of this checkout."""
    return PRESET_DIR / f"corpus_{name}.yaml"


def load_preset(name: str) -> CorpusConfig:
    return load_corpus_config(preset_path(name))
