"""The standard GRID evaluation protocols (and a decode-only one), as train/dev/test assignments of utterances.

* ``unseen`` (unseen speakers; LipNet, Assael et al. 2016, and icefall's egs/grid): speakers
  s1, s2, s20 and s22 are the test set. Our addition: s3 and s4 are held out as a dev set
  (the pipeline tunes acoustic scales and stops training on dev); every other speaker trains.
* ``all_test``: every clip is a test clip, whatever its speaker is called (decoding a folder
  with models trained elsewhere: egs/grid/local/decode_corpus.sh).
* ``overlapped`` (overlapped speakers; LipNet): from *each* speaker, 255 randomly chosen
  sentences are the test set and the rest trains (33 speakers with video x 255 = 8415 test
  utterances). LipNet has no dev set; we take ``dev_per_speaker`` more random sentences per
  speaker (default 25) from what would otherwise train, because the pipeline needs one.

Sizes: given per speaker, or derived from how many clips each speaker has
(:func:`default_overlapped_sizes`): LipNet's 255 test + 25 dev for a full speaker (1000
sentences), 3/16 test and 1/16 dev of a smaller folder (400 clips: 75 test, 25 dev, 300 train).

The overlapped draw is deterministic: each speaker's utterance ids are sorted, then shuffled
with a generator seeded from (seed, speaker) through SHA-256 - not Python's salted ``hash`` -
so the same corpus and seed give the same split on every machine, and adding or removing a
speaker never changes the others' draws.
"""
from __future__ import annotations

import hashlib
import logging
import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence, Union

from avsr.utils.io import write_json_atomic, write_text_atomic

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]

PROTOCOLS = ("unseen", "overlapped", "all_test")  # all_test: every clip is test (decoding a folder)
SPLIT_NAMES = ("train", "dev", "test")
LIPNET_TEST_SPEAKERS: tuple[str, ...] = ("s1", "s2", "s20", "s22")
UNSEEN_DEV_SPEAKERS: tuple[str, ...] = ("s3", "s4")
OVERLAPPED_TEST_PER_SPEAKER = 255
OVERLAPPED_DEV_PER_SPEAKER = 25
SPLIT_JSON = "split.json"
SPLIT_TSV = "split_utts.tsv"


@dataclass(frozen=True)
class SplitConfig:
    """Which protocol and its parameters (every field is recorded in ``split.json``)."""

    protocol: str = "unseen"
    seed: int = 1234
    dev_speakers: tuple[str, ...] = UNSEEN_DEV_SPEAKERS
    test_speakers: tuple[str, ...] = LIPNET_TEST_SPEAKERS
    test_per_speaker: Optional[int] = None  # None: default_overlapped_sizes of each speaker's clip count
    dev_per_speaker: Optional[int] = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown GRID split protocol {self.protocol!r}; one of {PROTOCOLS}")
        overlap = set(self.dev_speakers) & set(self.test_speakers)
        if self.protocol == "unseen" and overlap:
            raise ValueError(f"speakers in both dev and test: {sorted(overlap)}")
        if any(n is not None and n < 0 for n in (self.test_per_speaker, self.dev_per_speaker)):
            raise ValueError("test_per_speaker and dev_per_speaker must be >= 0")


@dataclass
class GridSplit:
    """utt_id -> split name, plus the config that produced it."""

    config: SplitConfig
    assignment: dict[str, str] = field(default_factory=dict)

    def utts(self, split: str) -> list[str]:
        return sorted(u for u, s in self.assignment.items() if s == split)

    def summary(self, speaker_of: Mapping[str, str]) -> dict:
        """Counts of utterances and speakers per split (for split.json and the log)."""
        out = {}
        for split in SPLIT_NAMES:
            utts = self.utts(split)
            out[split] = {"utterances": len(utts), "speakers": sorted({speaker_of[u] for u in utts}, key=_speaker_key)}
        return out


def _speaker_key(speaker: str) -> tuple:
    """s2 before s10 (numeric order where the name has a number)."""
    digits = "".join(ch for ch in speaker if ch.isdigit())
    return (speaker.rstrip("0123456789"), int(digits) if digits else -1, speaker)


def speaker_rng(seed: int, speaker: str) -> random.Random:
    """A generator that depends only on (seed, speaker), identical across runs and machines."""
    digest = hashlib.sha256(f"grid-split:{seed}:{speaker}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def unseen_speaker_split(utts_by_speaker: Mapping[str, Sequence[str]], dev_speakers: Iterable[str],
                         test_speakers: Iterable[str]) -> dict[str, str]:
    """Whole speakers to dev/test; every other speaker's utterances train."""
    dev, test = set(dev_speakers), set(test_speakers)
    return {u: ("test" if spk in test else "dev" if spk in dev else "train")
            for spk, utts in utts_by_speaker.items() for u in utts}


def default_overlapped_sizes(num_utts: int) -> tuple[int, int]:
    """(test, dev) sentences of a speaker with ``num_utts`` clips when not given: LipNet's 255 +
    our 25 for a full GRID speaker (>= 1000 sentences); else 3/16 test and 1/16 dev (at most 25),
    i.e. 75 / 25 / 300 train for a 400-clip folder, so a small real folder keeps most of its
    clips for training and still has a dev set for the acoustic scale and early stopping."""
    if num_utts >= 1000:
        return OVERLAPPED_TEST_PER_SPEAKER, OVERLAPPED_DEV_PER_SPEAKER
    return round(num_utts * 3 / 16), min(OVERLAPPED_DEV_PER_SPEAKER, round(num_utts / 16))


def overlapped_speaker_split(utts_by_speaker: Mapping[str, Sequence[str]], test_per_speaker: Optional[int] = OVERLAPPED_TEST_PER_SPEAKER,
                             dev_per_speaker: Optional[int] = OVERLAPPED_DEV_PER_SPEAKER, seed: int = 1234) -> dict[str, str]:
    """Per speaker: ``test_per_speaker`` random utterances test, the next ``dev_per_speaker`` dev,
    the rest train (None: :func:`default_overlapped_sizes` of that speaker's count). A speaker
    with too few utterances gives test what it has first (logged)."""
    assignment: dict[str, str] = {}
    for spk in sorted(utts_by_speaker, key=_speaker_key):
        order = sorted(utts_by_speaker[spk])
        speaker_rng(seed, spk).shuffle(order)
        auto_test, auto_dev = default_overlapped_sizes(len(order))
        n_test = auto_test if test_per_speaker is None else test_per_speaker
        n_dev = auto_dev if dev_per_speaker is None else dev_per_speaker
        if len(order) < n_test + n_dev + 1:
            logger.warning("speaker %s has %d utterances: fewer than %d test + %d dev + 1 train",
                           spk, len(order), n_test, n_dev)
        for k, u in enumerate(order):
            assignment[u] = "test" if k < n_test else "dev" if k < n_test + n_dev else "train"
    return assignment


def make_split(speaker_of: Mapping[str, str], config: SplitConfig) -> GridSplit:
    """Assign every utterance (``utt_id -> speaker``) to train/dev/test under ``config``."""
    by_speaker: dict[str, list[str]] = defaultdict(list)
    for utt, spk in speaker_of.items():
        by_speaker[spk].append(utt)
    if config.protocol == "unseen":
        assignment = unseen_speaker_split(by_speaker, config.dev_speakers, config.test_speakers)
    elif config.protocol == "all_test":  # whatever the speakers are called
        assignment = {u: "test" for u in speaker_of}
    else:
        assignment = overlapped_speaker_split(by_speaker, config.test_per_speaker, config.dev_per_speaker, config.seed)
    return GridSplit(config, assignment)


def write_split(split: GridSplit, speaker_of: Mapping[str, str], index_dir: PathLike) -> dict:
    """Record the split in ``index_dir``: ``split.json`` (protocol, parameters, counts) and
    ``split_utts.tsv`` (``utt_id<TAB>speaker<TAB>split`` for every utterance, sorted).
    Returns what split.json holds."""
    index_dir = Path(index_dir)
    cfg = asdict(split.config)
    if split.config.protocol in ("unseen", "all_test"):  # only the fields that protocol uses
        cfg.pop("test_per_speaker"), cfg.pop("dev_per_speaker"), cfg.pop("seed")
        if split.config.protocol == "all_test":
            cfg.pop("dev_speakers"), cfg.pop("test_speakers")
    else:
        cfg.pop("dev_speakers"), cfg.pop("test_speakers")
        for name in ("test_per_speaker", "dev_per_speaker"):  # sizes derived per speaker: see per_speaker
            cfg[name] = "auto" if cfg[name] is None else cfg[name]
    per_speaker: dict[str, Counter] = defaultdict(Counter)
    for utt, name in split.assignment.items():
        per_speaker[speaker_of[utt]][name] += 1
    info = {"protocol": split.config.protocol, "config": cfg, "splits": split.summary(speaker_of),
            "per_speaker": {spk: {name: per_speaker[spk][name] for name in SPLIT_NAMES}
                            for spk in sorted(per_speaker, key=_speaker_key)}}
    write_json_atomic(index_dir / SPLIT_JSON, info)
    rows = sorted(split.assignment.items())
    write_text_atomic(index_dir / SPLIT_TSV, "".join(f"{u}\t{speaker_of[u]}\t{s}\n" for u, s in rows))
    return info
