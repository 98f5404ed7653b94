"""Stage 1: lhotse manifests with paired audio + video from data-preparation records.

Audio-only records (``video_path`` None, e.g. the yes/no or a custom audio corpus) give a
Recording with the wav source only; everything downstream checks ``recording.has_video``.

A Recording has two sources: the 16 kHz wav (channel 0) and the video container (no audio
channel; it carries lhotse's ``VideoInfo``). lhotse reads audio only from the sources whose
channels are requested, so ``cut.load_audio()`` reads the wav; video frames are decoded by
:func:`avsr.data.video_cuts.load_video_frames` with PyAV, because lhotse's video loading goes
through torchaudio, which is not installable here.
"""
from __future__ import annotations

import logging
import contextlib
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Optional, Sequence, Union

from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet, validate_recordings_and_supervisions
from lhotse.audio import AudioSource, VideoInfo
from lhotse.supervision import AlignmentItem
from lhotse.utils import fastcopy
from tqdm import tqdm

from avsr.data.checks import check_record
from avsr.data.types import Segment, UttRecord
from avsr.utils.parallel import job_pool
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path, write_text_atomic

log = logging.getLogger(__name__)
PathLike = Union[str, Path]


@dataclass(frozen=True)
class BadCut:
    utt_id: str
    path: str
    reason: str


def manifest_path(manifest_dir: PathLike, corpus: str, kind: str, split: str) -> Path:
    """``<dir>/<corpus>_<kind>_<split>.jsonl.gz`` (kind: recordings | supervisions | cuts)."""
    return Path(manifest_dir) / f"{corpus}_{kind}_{split}.jsonl.gz"


def _alignment(segments: Sequence[Segment]) -> list[AlignmentItem]:
    return [AlignmentItem(symbol=s.symbol, start=round(s.start, 4), duration=round(s.duration, 4)) for s in segments]


def record_to_manifests(
    rec: UttRecord,
    vocabulary: Optional[Collection[str]] = None,
    sampling_rate: int = 16000,
) -> tuple[Recording, SupervisionSegment]:
    """Check one clip and describe it as a lhotse Recording (audio + video, or audio only when the
    record has no video) and a supervision."""
    audio, video = check_record(rec, vocabulary=vocabulary, expected_sampling_rate=sampling_rate)
    sources = [AudioSource(type="file", channels=[0], source=str(Path(rec.audio_path).resolve()))]
    if video is not None:
        sources.append(
            AudioSource(
                type="file",
                channels=[],
                source=str(Path(rec.video_path).resolve()),
                video=VideoInfo(fps=video.fps, num_frames=video.num_frames, height=video.height, width=video.width),
            )
        )
    recording = Recording(
        id=rec.utt_id,
        sources=sources,
        sampling_rate=audio.sampling_rate,
        num_samples=audio.num_samples,
        duration=audio.duration,
    )
    alignment = {"word": _alignment(rec.words)} if rec.words else {}
    if rec.phones:
        alignment["phone"] = _alignment(rec.phones)
    supervision = SupervisionSegment(
        id=rec.utt_id,
        recording_id=rec.utt_id,
        start=0.0,
        duration=audio.duration,
        channel=0,
        text=rec.text,
        language="English",
        speaker=rec.speaker,
        gender=rec.gender,
        alignment=alignment or None,
    )
    return recording, supervision


def _try_record(args: tuple[UttRecord, Optional[frozenset], int]):
    rec, vocabulary, sampling_rate = args
    try:
        return record_to_manifests(rec, vocabulary, sampling_rate)
    except AvsrInputError as err:
        return BadCut(rec.utt_id, err.path or rec.video_path or rec.audio_path, err.problem)


def build_manifests(
    records: Sequence[UttRecord],
    vocabulary: Optional[Collection[str]] = None,
    sampling_rate: int = 16000,
    num_jobs: int = 1,
    desc: str = "manifests",
    executor: Optional[Executor] = None,
) -> tuple[RecordingSet, SupervisionSet, CutSet, list[BadCut]]:
    """Check and convert every record; bad clips are skipped and returned with their reason."""
    vocab = frozenset(vocabulary) if vocabulary is not None else None
    jobs = [(rec, vocab, sampling_rate) for rec in records]
    if num_jobs > 1 and len(jobs) > 1:
        with contextlib.ExitStack() as stack:
            pool = executor or stack.enter_context(job_pool(num_jobs))
            results = list(tqdm(pool.map(_try_record, jobs, chunksize=8), total=len(jobs), desc=desc))
    else:
        results = [_try_record(job) for job in tqdm(jobs, desc=desc)]
    bad = [r for r in results if isinstance(r, BadCut)]
    good = [r for r in results if not isinstance(r, BadCut)]
    recordings = RecordingSet.from_recordings(r for r, _ in good)
    supervisions = SupervisionSet.from_segments(s for _, s in good)
    if good:
        validate_recordings_and_supervisions(recordings, supervisions)
    # One cut per recording, with the recording's id (CutSet.from_manifests would append "-<channel>").
    cuts = CutSet.from_cuts(fastcopy(r.to_cut(), supervisions=[s]) for r, s in sorted(good, key=lambda rs: rs[0].id))
    return recordings, supervisions, cuts, bad


def write_manifests(
    out_dir: PathLike,
    corpus: str,
    split: str,
    recordings: RecordingSet,
    supervisions: SupervisionSet,
    cuts: CutSet,
    bad: Sequence[BadCut],
) -> None:
    """Write the three manifests and the bad-cuts report; the cuts file is written last (it marks completion)."""
    for kind, manifest in (("recordings", recordings), ("supervisions", supervisions)):
        with atomic_path(manifest_path(out_dir, corpus, kind, split)) as tmp:
            manifest.to_file(tmp)
    write_text_atomic(
        Path(out_dir) / f"{corpus}_bad_cuts_{split}.txt",
        "".join(f"{b.utt_id}\t{b.path}\t{b.reason}\n" for b in bad),
    )
    save_cuts(cuts, manifest_path(out_dir, corpus, "cuts", split))
    if bad:
        log.warning("%s/%s: skipped %d bad clips (see %s_bad_cuts_%s.txt)", corpus, split, len(bad), corpus, split)


def save_cuts(cuts: CutSet, path: PathLike) -> None:
    """Write a cut manifest atomically (a killed stage never leaves a half-written one)."""
    with atomic_path(path) as tmp:
        cuts.to_file(tmp)


def load_cuts(path: PathLike) -> CutSet:
    """Read a cut manifest; an empty file (e.g. a split with no speakers) gives an empty CutSet.

    (lhotse's ``CutSet.from_file`` returns None for an empty manifest.)
    """
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "cut manifest not found: run the earlier stages first")
    cuts = CutSet.from_file(path)
    return cuts if cuts is not None else CutSet.from_cuts([])
