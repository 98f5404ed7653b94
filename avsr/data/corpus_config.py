"""Size and rendering settings of the embedded synthetic GRID corpus (conf/corpus_*.yaml)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Union

import yaml

from avsr.utils.errors import AvsrInputError

SPLITS: tuple[str, ...] = ("train", "dev", "test")
PRESET_DIR = Path(__file__).resolve().parents[2] / "conf"


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

    def speakers_per_split(self) -> dict[str, int]:
        return {"train": self.train_speakers, "dev": self.dev_speakers, "test": self.test_speakers}

    @property
    def num_speakers(self) -> int:
        return self.train_speakers + self.dev_speakers + self.test_speakers

    def validate(self, source: Union[str, Path, None] = None) -> "CorpusConfig":
        problems = []
        if self.train_speakers < 1:
            problems.append("train_speakers must be >= 1")
        if self.dev_speakers < 0 or self.test_speakers < 0:
            problems.append("dev_speakers/test_speakers must be >= 0")
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
