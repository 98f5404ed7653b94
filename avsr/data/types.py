"""Plain records exchanged between corpus preparation (embedded or real) and manifest building."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Segment:
    """A timed unit (word or phone), times in seconds from the start of the recording."""

    symbol: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class UttRecord:
    """One paired audio-visual utterance, as data preparation hands it to the manifest builder.

    ``audio_path`` is a 16 kHz mono wav; ``video_path`` any container PyAV reads (mp4, GRID's mpg),
    or None for an audio-only corpus (stage 1 then builds audio-only recordings).
    """

    utt_id: str
    speaker: str
    audio_path: str
    video_path: Optional[str]
    text: str
    words: list[Segment] = field(default_factory=list)
    phones: list[Segment] = field(default_factory=list)
    gender: Optional[str] = None
    # Where the face is, when the data generator knows it (x, y, w, h per frame); real data leaves it None.
    face_boxes: Optional[list[tuple[int, int, int, int]]] = None


@dataclass(frozen=True)
class BadClip:
    """A clip that failed validation during corpus preparation: listed in ``bad_cuts.txt`` and skipped."""

    utt_id: str
    path: str
    reason: str
