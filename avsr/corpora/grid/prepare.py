"""Data preparation for the real GRID corpus (Cooke, Barker, Cunningham & Shao, 2006).

Reads the corpus where the user unpacked it and never writes there: the audio track of each
``.mpg`` is extracted to a separate directory (16 kHz mono PCM16 wav) and one JSONL file of
:class:`~avsr.data.types.UttRecord` per split is written (the contract stage 1 consumes).

Accepted layouts (the official archives unpack both ways)::

    <corpus>/<speaker>/<utt>.mpg                 <corpus>/alignments/<speaker>/<utt>.align
    <corpus>/<speaker>/video/mpg_6000/<utt>.mpg  <corpus>/<speaker>/align/<utt>.align

``.align`` lines are ``start end word`` in 1/25000 s; ``sil`` and ``sp`` are dropped. Without an
``.align`` the transcript comes from the utterance name (``bbaf2n`` = "bin blue at f two now")
and the record has no word timings.
"""
from __future__ import annotations

import logging
import multiprocessing
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np
import soundfile as sf
from tqdm import tqdm

from avsr.corpora.grid.grammar import code_to_sentence, grid_vocabulary
from avsr.corpora.grid.splits import (
    LIPNET_TEST_SPEAKERS,
    UNSEEN_DEV_SPEAKERS,
    SplitConfig,
    make_split,
    write_split,
)
from avsr.data.records import write_records
from avsr.data.types import BadClip, Segment, UttRecord
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path, write_text_atomic
from avsr.utils.paths import ensure_outside_corpus  # re-exported: egs/grid/local imports it from here
from avsr.video.io import probe_video, read_audio_track

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]

ALIGN_UNITS_PER_SECOND = 25000  # GRID .align times are in 1/25000 s (= 1000 per 25 fps video frame)
NON_WORDS = frozenset({"sil", "sp"})
SAMPLING_RATE = 16000
SPLITS = ("train", "dev", "test")

# Unseen-speaker protocol: LipNet (Assael et al., 2016) and much later GRID work hold out speakers
# 1, 2, 20 and 22 (two male, two female) for testing. For model selection we hold out two more
# speakers, s3 and s4 (the lowest-numbered remaining ones; change with --dev-speakers).
# Every other speaker trains. (Speaker 21 has no video in the official release.)
# The overlapped-speaker protocol and the split bookkeeping live in avsr.corpora.grid.splits.
DEFAULT_TEST_SPEAKERS: tuple[str, ...] = LIPNET_TEST_SPEAKERS
DEFAULT_DEV_SPEAKERS: tuple[str, ...] = UNSEEN_DEV_SPEAKERS


@dataclass(frozen=True)
class GridClip:
    """One GRID utterance as found on disk (``align_path`` None when no .align exists)."""

    speaker: str
    utt: str
    video_path: Path
    align_path: Optional[Path]

    @property
    def utt_id(self) -> str:
        return f"{self.speaker}_{self.utt}"




def _align_candidates(corpus_dir: Path, speaker: str, utt: str) -> list[Path]:
    return [
        corpus_dir / "alignments" / speaker / f"{utt}.align",
        corpus_dir / speaker / "align" / f"{utt}.align",
        corpus_dir / "align" / speaker / f"{utt}.align",
    ]


def find_grid_clips(corpus_dir: PathLike) -> list[GridClip]:
    """All ``.mpg`` clips of a GRID corpus directory, sorted by (speaker, utt)."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise AvsrInputError(corpus_dir, "GRID corpus directory not found")
    clips: dict[tuple[str, str], GridClip] = {}
    for speaker_dir in sorted(p for p in corpus_dir.iterdir() if p.is_dir()):
        if speaker_dir.name in ("alignments", "align"):
            continue
        videos = sorted(speaker_dir.glob("*.mpg")) + sorted((speaker_dir / "video" / "mpg_6000").glob("*.mpg"))
        for video in videos:
            key = (speaker_dir.name, video.stem)
            if key in clips:  # both layouts present: keep the first one found
                continue
            align = next((p for p in _align_candidates(corpus_dir, *key) if p.is_file()), None)
            clips[key] = GridClip(speaker_dir.name, video.stem, video, align)
    return [clips[k] for k in sorted(clips)]


def read_align(path: PathLike) -> list[Segment]:
    """Word segments (seconds) of a GRID ``.align`` file, without ``sil``/``sp``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise AvsrInputError(path, f"unreadable .align file ({err.__class__.__name__})") from None
    words = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            if len(fields) != 3:
                raise ValueError
            start, end = int(fields[0]), int(fields[1])
        except ValueError:
            raise AvsrInputError(path, f"line {line_no}: expected 'start end word', got {line.strip()!r}") from None
        if end < start:
            raise AvsrInputError(path, f"line {line_no}: end {end} before start {start}")
        word = fields[2].lower()
        if word not in NON_WORDS:
            words.append(Segment(word, start / ALIGN_UNITS_PER_SECOND, end / ALIGN_UNITS_PER_SECOND))
    return words


def align_end_seconds(path: PathLike) -> float:
    """Where the last ``.align`` segment (silence included) ends, in seconds."""
    ends = [int(line.split()[1]) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return max(ends, default=0) / ALIGN_UNITS_PER_SECOND


def clip_transcript(clip: GridClip) -> tuple[list[str], list[Segment]]:
    """(words, word segments) from the .align, or from the utterance name when there is none.

    Raises AvsrInputError when the transcript is empty or has a word outside the GRID grammar.
    """
    if clip.align_path is not None:
        segments = read_align(clip.align_path)
        words = [s.symbol for s in segments]
        source = clip.align_path
    else:
        try:
            words = code_to_sentence(clip.utt)
        except ValueError as err:
            raise AvsrInputError(clip.video_path, f"no .align file and the name is not a GRID sentence code ({err})") from None
        segments, source = [], clip.video_path
    if not words:
        raise AvsrInputError(source, "empty transcript (only silence)")
    vocabulary = set(grid_vocabulary())
    unknown = [w for w in words if w not in vocabulary]
    if unknown:
        raise AvsrInputError(source, f"word(s) outside the GRID grammar: {' '.join(unknown)}")
    return words, segments


def wav_path_for(clip: GridClip, out_audio_dir: PathLike) -> Path:
    return Path(out_audio_dir) / clip.speaker / f"{clip.utt}.wav"


def _check_and_extract_audio(clip: GridClip, wav_path: Path) -> None:
    """Validate the video and its audio track, then write the audio as a 16 kHz mono PCM16 wav."""
    video = clip.video_path
    probe = probe_video(video)  # raises AvsrInputError for undecodable / corrupt video
    if not probe.has_audio:
        raise AvsrInputError(video, "video has no audio track")
    if clip.align_path is not None:
        # A truncated file decodes cleanly up to where it was cut: the .align says how long it was.
        expected = align_end_seconds(clip.align_path)
        if probe.duration + 1.0 / probe.fps < expected:
            raise AvsrInputError(
                video,
                f"truncated or corrupt video: {probe.num_frames} frames ({probe.duration:.2f} s) "
                f"but its .align covers {expected:.2f} s",
            )
    audio = read_audio_track(video, SAMPLING_RATE)
    audio_seconds = len(audio) / SAMPLING_RATE
    # GRID audio ends ~22 ms before the last video frame: allow one video frame either way.
    frames_needed = int(round(audio_seconds * probe.fps))
    if abs(probe.duration - audio_seconds) > 1.0 / probe.fps + 1e-6:
        raise AvsrInputError(
            video,
            f"video has {probe.num_frames} frames, audio {audio_seconds:.3f} s needs {frames_needed} (±1)",
        )
    pcm = np.clip(audio, -1.0, 1.0)
    with atomic_path(wav_path) as tmp:
        sf.write(str(tmp), pcm, SAMPLING_RATE, subtype="PCM_16", format="WAV")


def prepare_clip(clip: GridClip, out_audio_dir: PathLike) -> UttRecord:
    """Validate one clip, extract its audio (skipped if the wav exists) and return its record.

    Raises AvsrInputError naming the offending file. A wav is only written after every check has
    passed, so an existing wav means the clip was validated before; re-runs only re-read the
    transcript.
    """
    words, segments = clip_transcript(clip)
    wav_path = wav_path_for(clip, out_audio_dir)
    if not wav_path.is_file():
        _check_and_extract_audio(clip, wav_path)
    return UttRecord(
        utt_id=clip.utt_id,
        speaker=clip.speaker,
        audio_path=str(wav_path.resolve()),
        video_path=str(clip.video_path.resolve()),
        text=" ".join(words),
        words=segments,
    )


def _prepare_or_report(args: tuple[GridClip, str]) -> Union[UttRecord, BadClip]:
    clip, out_audio_dir = args
    try:
        return prepare_clip(clip, out_audio_dir)
    except AvsrInputError as err:
        return BadClip(clip.utt_id, err.path or str(clip.video_path), err.problem)


def assign_split(speaker: str, dev_speakers: Iterable[str], test_speakers: Iterable[str]) -> str:
    if speaker in set(test_speakers):
        return "test"
    if speaker in set(dev_speakers):
        return "dev"
    return "train"


def select_clip(clips: Sequence[GridClip], utt: str, corpus_dir: PathLike) -> GridClip:
    """Find one clip by ``<speaker>/<utt>``, ``<speaker>_<utt>`` or a unique ``<utt>``."""
    key = utt.replace("/", "_")
    matches = [c for c in clips if c.utt_id == key] or [c for c in clips if c.utt == utt]
    if len(matches) != 1:
        problem = "no clip" if not matches else f"{len(matches)} clips"
        raise AvsrInputError(corpus_dir, f"{problem} named {utt!r} (use <speaker>/<utt>)")
    return matches[0]


def prepare_grid(
    corpus_dir: PathLike,
    out_audio_dir: PathLike,
    index_dir: PathLike,
    dev_speakers: Sequence[str] = DEFAULT_DEV_SPEAKERS,
    test_speakers: Sequence[str] = DEFAULT_TEST_SPEAKERS,
    num_jobs: int = 1,
    split: Optional[SplitConfig] = None,
) -> dict[str, list[UttRecord]]:
    """Prepare the whole corpus: records per split in ``<index_dir>/{train,dev,test}.jsonl``.

    ``split`` chooses the protocol (default: unseen speakers with ``dev_speakers`` /
    ``test_speakers``; see :mod:`avsr.corpora.grid.splits` for the overlapped one). The split is
    drawn over every clip found, before validation, so it does not depend on which clips fail
    to decode; it is recorded in ``split.json`` and ``split_utts.tsv``. Bad clips are skipped
    and listed in ``<index_dir>/bad_cuts.txt`` (``utt_id<TAB>path<TAB>reason``).
    Returns the records per split.
    """
    corpus_dir, out_audio_dir, index_dir = Path(corpus_dir), Path(out_audio_dir), Path(index_dir)
    ensure_outside_corpus(corpus_dir, out_audio_dir, "the audio output directory")
    ensure_outside_corpus(corpus_dir, index_dir, "the index directory")
    if split is None:
        split = SplitConfig("unseen", dev_speakers=tuple(dev_speakers), test_speakers=tuple(test_speakers))
    clips = find_grid_clips(corpus_dir)
    if not clips:
        raise AvsrInputError(corpus_dir, "no GRID clips found (<speaker>/<utt>.mpg or <speaker>/video/mpg_6000/<utt>.mpg)")
    speaker_of = {clip.utt_id: clip.speaker for clip in clips}
    assignment = make_split(speaker_of, split)

    jobs = [(clip, str(out_audio_dir)) for clip in clips]
    progress = dict(total=len(jobs), desc="GRID clips", unit="clip")
    if num_jobs > 1:
        # PyAV decoding is CPU-bound and holds the GIL in places: processes, not threads.
        with multiprocessing.get_context("spawn").Pool(num_jobs) as pool:
            results = list(tqdm(pool.imap(_prepare_or_report, jobs, chunksize=4), **progress))
    else:
        results = [_prepare_or_report(job) for job in tqdm(jobs, **progress)]

    by_split: dict[str, list[UttRecord]] = {name: [] for name in SPLITS}
    bad = [r for r in results if isinstance(r, BadClip)]
    for rec in results:
        if isinstance(rec, UttRecord):
            by_split[assignment.assignment[rec.utt_id]].append(rec)
    for name, records in by_split.items():
        write_records(index_dir / f"{name}.jsonl", records)
    write_text_atomic(index_dir / "bad_cuts.txt", "".join(f"{b.utt_id}\t{b.path}\t{b.reason}\n" for b in bad))
    write_split(assignment, speaker_of, index_dir)
    logger.info(
        "GRID (%s split): %d clips, %d bad (see %s); %s",
        split.protocol, len(clips), len(bad), index_dir / "bad_cuts.txt",
        ", ".join(f"{s} {len(r)} utts / {len({x.speaker for x in r})} spk" for s, r in by_split.items()),
    )
    return by_split
