"""Bring your own corpus: stage 0 for lhotse manifests (``egs/custom``) and the helpers every
audio-only preparation shares (16 kHz conversion, text normalisation, lexicon coverage, dev carving).

Input: a directory of manifests named as lhotse recipes write them,
``<corpus>_{recordings,supervisions}_<split>.jsonl.gz`` with splits ``train`` and ``test``
(``dev`` optional: then a deterministic ~10 % of train is carved out, by speaker when train has
at least 3 speakers, else by utterance), a word lexicon (``WORD p1 p2 ...``) and optionally an
LM training text.

Output (the contract of the top-level run.sh): ``<index-dir>/{train,dev,test}.jsonl`` of
:class:`UttRecord`, one 16 kHz mono PCM16 wav per supervision under ``<out-audio-dir>/<split>/``,
the normalised ``lexicon.txt`` and ``lm_text.txt``, ``bad_cuts.txt`` and ``prep.json``.

Why resample to wav files here rather than keep lhotse recordings with lazy resampling: stage 1
consumes the UttRecord index and checks every wav is 16 kHz (what the noise mixing of stage 2 and
the feature configs of stage 3 assume); converting once in stage 0 also cuts multi-supervision
recordings into one file per utterance, reads any format lhotse can (flac, sph, ...) exactly
once, and leaves plain files anyone can listen to. Cost: 115 MB of disk per hour of audio.

Text: words are lower-cased in transcripts, lexicon and LM text alike (``Yes``, ``YES`` and
``yes`` are one word). A word the lexicon lacks is an :class:`AvsrInputError` naming the lexicon
and every missing word, raised before anything is written.
"""
from __future__ import annotations

import json
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from avsr.data.records import write_records
from avsr.data.types import Segment, UttRecord
from avsr.lang.lexicon import Lexicon, LexiconEntry, read_lexicon, write_lexicon
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path, write_json_atomic, write_text_atomic
from avsr.utils.parallel import map_chunks

log = logging.getLogger(__name__)
PathLike = Union[str, Path]

TARGET_SAMPLING_RATE = 16000
SPLITS = ("train", "dev", "test")
DEV_FRACTION = 0.1
MIN_SPEAKERS_FOR_SPEAKER_DEV = 3
MODALITIES = ("audio", "video", "av")
_MANIFEST = re.compile(r"^(?P<corpus>.+)_(?P<kind>recordings|supervisions)_(?P<split>[^_]+)\.jsonl(\.gz)?$")


@dataclass(frozen=True)
class BadClip:
    """An utterance left out of the index, with the reason (written to ``bad_cuts.txt``)."""

    utt_id: str
    path: str
    reason: str


# ---------------------------------------------------------------- helpers shared by every prep
def normalise_text(text: Optional[str]) -> str:
    """Lower-case, single spaces: the one normalisation for transcripts, lexicon and LM text."""
    return " ".join((text or "").lower().split())


def to_mono_16k(samples: np.ndarray, sampling_rate: int) -> np.ndarray:
    """float32 [N] at 16 kHz from [N] or [C, N] at any rate (channels averaged; polyphase resampling
    with scipy's default Kaiser anti-aliasing filter, exact for rational rate ratios)."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=0)
    if sampling_rate != TARGET_SAMPLING_RATE:
        g = np.gcd(int(sampling_rate), TARGET_SAMPLING_RATE)
        x = resample_poly(x, TARGET_SAMPLING_RATE // g, int(sampling_rate) // g).astype(np.float32)
    return x


def write_wav_16k(path: PathLike, samples: np.ndarray, sampling_rate: int) -> int:
    """Write mono 16 kHz PCM16 atomically; returns the number of samples. Empty audio is an error."""
    audio = to_mono_16k(samples, sampling_rate)
    if audio.size == 0:
        raise AvsrInputError(path, "audio is empty")
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(audio, -1.0, 1.0), TARGET_SAMPLING_RATE, subtype="PCM_16", format="WAV")
    return int(audio.size)


def normalised_lexicon(path: PathLike) -> Lexicon:
    """A user lexicon with lower-cased words (pronunciations kept; duplicates made by lower-casing dropped)."""
    seen, entries = set(), []
    for e in read_lexicon(path, with_probs=False).entries:
        key = (e.word.lower(), e.phones)
        if key not in seen:
            seen.add(key)
            entries.append(LexiconEntry(key[0], e.phones, e.prob))
    return Lexicon(entries)


def check_lexicon_coverage(lexicon: Lexicon, lexicon_path: PathLike, texts: dict[str, Iterable[str]]) -> None:
    """Raise one AvsrInputError naming the lexicon file and every word it lacks (per text source)."""
    known = set(lexicon.words)
    parts, total = [], 0
    for source, lines in texts.items():
        missing = sorted({w for line in lines for w in line.split()} - known)
        if missing:
            total += len(missing)
            parts.append(f"in {source}: {' '.join(missing)}")
    if parts:
        raise AvsrInputError(lexicon_path, f"{total} word(s) missing from the lexicon ({'; '.join(parts)}): add them and re-run")


def carve_dev(train: Sequence[UttRecord], fraction: float = DEV_FRACTION, seed: int = 0,
              speakers_known: bool = True) -> tuple[list[UttRecord], list[UttRecord], str]:
    """Split ``train`` into (train, dev, how): ``how`` is "speaker" when there are at least 3
    (known) training speakers (``round(fraction * speakers)``, at least 1, held out whole), else
    "utterance" (``round(fraction * utterances)``, at least 1 when train has 2+). Deterministic in ``seed``."""
    speakers = sorted({r.speaker for r in train})
    if speakers_known and len(speakers) >= MIN_SPEAKERS_FOR_SPEAKER_DEV:
        random.Random(seed).shuffle(speakers)
        held = set(speakers[: max(1, round(fraction * len(speakers)))])
        return [r for r in train if r.speaker not in held], [r for r in train if r.speaker in held], "speaker"
    ids = sorted(r.utt_id for r in train)
    random.Random(seed).shuffle(ids)
    held = set(ids[: max(1, round(fraction * len(ids)))]) if len(ids) >= 2 else set()
    return [r for r in train if r.utt_id not in held], [r for r in train if r.utt_id in held], "utterance"


def write_index(index_dir: PathLike, splits: dict[str, list[UttRecord]], lexicon: Lexicon, lm_lines: Sequence[str],
                bad: Sequence[BadClip], summary: dict) -> None:
    """The stage-0 outputs, each atomic; ``prep.json`` last (it marks a complete preparation)."""
    index_dir = Path(index_dir)
    for split in SPLITS:
        write_records(index_dir / f"{split}.jsonl", sorted(splits.get(split, []), key=lambda r: r.utt_id))
    write_lexicon(lexicon, index_dir / "lexicon.txt")
    write_text_atomic(index_dir / "lm_text.txt", "".join(line + "\n" for line in lm_lines))
    write_text_atomic(index_dir / "bad_cuts.txt", "".join(f"{b.utt_id}\t{b.path}\t{b.reason}\n" for b in bad))
    write_json_atomic(index_dir / "prep.json", summary)


# ---------------------------------------------------------------- lhotse manifests -> index
def find_manifests(manifest_dir: PathLike, corpus: Optional[str] = None) -> tuple[str, dict[str, tuple[Path, Path]]]:
    """(corpus, {split: (recordings, supervisions)}) from lhotse-named files; train and test are required."""
    manifest_dir = Path(manifest_dir)
    if not manifest_dir.is_dir():
        raise AvsrInputError(manifest_dir, "manifest directory not found")
    found: dict[tuple[str, str], dict[str, Path]] = {}
    for f in sorted(manifest_dir.iterdir()):
        m = _MANIFEST.match(f.name)
        if m:
            found.setdefault((m["corpus"], m["split"]), {})[m["kind"]] = f
    corpora = sorted({c for c, _ in found})
    if corpus is None:
        if len(corpora) != 1:
            raise AvsrInputError(manifest_dir, f"expected manifests of one corpus (<corpus>_recordings_<split>.jsonl.gz), "
                                 f"found {corpora or 'none'}: pass --corpus-prefix")
        corpus = corpora[0]
    ignored = sorted({s for c, s in found if c == corpus} - set(SPLITS))
    if ignored:
        log.warning("%s: ignoring splits %s (only train, dev, test are read: symlink or rename to use them)", corpus, ignored)
    splits = {}
    for split in SPLITS:
        kinds = found.get((corpus, split), {})
        if len(kinds) == 2:
            splits[split] = (kinds["recordings"], kinds["supervisions"])
        elif kinds or split != "dev":
            missing = [k for k in ("recordings", "supervisions") if k not in kinds]
            raise AvsrInputError(manifest_dir / f"{corpus}_{missing[0]}_{split}.jsonl.gz",
                                 f"manifest not found (train and test need recordings + supervisions; dev is optional)")
    return corpus, splits


def _video_file(recording) -> Optional[str]:
    src = recording._video_source  # lhotse 1.33 keeps the video stream as one of the sources
    if src is None:
        return None
    if src.type != "file":
        raise AvsrInputError(recording.id, f"video source of type {src.type!r}: only files are supported")
    return src.source


def _load_audio(recording, sup) -> tuple[np.ndarray, int]:
    """The supervision's samples [C, N] at the recording's rate; audio that only lives in a video
    container is read with PyAV (lhotse would need torchaudio)."""
    audio_sources = [s for s in recording.sources if s.channels and not s.has_video]
    if audio_sources or not recording.has_video:
        return recording.load_audio(channels=sup.channel, offset=sup.start, duration=sup.duration), recording.sampling_rate
    from avsr.video.io import read_audio_track

    track = read_audio_track(_video_file(recording), TARGET_SAMPLING_RATE)
    first = int(round(sup.start * TARGET_SAMPLING_RATE))
    return track[first : first + int(round(sup.duration * TARGET_SAMPLING_RATE))][None, :], TARGET_SAMPLING_RATE


def _spans_recording(recording, sup) -> bool:
    frame = 1.0 / recording.video.fps if recording.has_video else 0.01
    return sup.start <= frame and abs(sup.start + sup.duration - recording.duration) <= frame + 1e-6


def _words(sup) -> list[Segment]:
    items = (sup.alignment or {}).get("word") or []
    return [Segment(normalise_text(a.symbol), round(a.start - sup.start, 4), round(a.end - sup.start, 4)) for a in items
            if normalise_text(a.symbol)]


def _convert_job(jobs: list[tuple], job_index: int, out_audio_dir: str) -> list:
    out = []
    for split, recording, sup, text, video in jobs:
        wav = Path(out_audio_dir) / split / f"{sup.id}.wav"
        try:
            samples, sr = _load_audio(recording, sup)
            write_wav_16k(wav, samples, sr)
        except AvsrInputError as err:
            out.append(BadClip(sup.id, err.path or str(wav), err.problem))
            continue
        except Exception as err:  # a corrupt or unreadable source: report it, keep the others
            out.append(BadClip(sup.id, str(recording.sources[0].source), f"unreadable audio ({err.__class__.__name__}: {err})"))
            continue
        out.append((split, UttRecord(utt_id=sup.id, speaker=sup.speaker or sup.id, audio_path=str(wav.resolve()),
                                     video_path=video, text=text, words=_words(sup), gender=sup.gender)))
    return out


def prepare_custom(
    manifest_dir: PathLike,
    lexicon_path: PathLike,
    out_audio_dir: PathLike,
    index_dir: PathLike,
    lm_text_path: Optional[PathLike] = None,
    modality: str = "audio",
    corpus: Optional[str] = None,
    dev_fraction: float = DEV_FRACTION,
    seed: int = 0,
    num_jobs: int = 1,
) -> dict:
    """lhotse manifests -> the UttRecord index (see the module docstring); returns the summary.

    Every check that can fail the whole run (missing manifests, words missing from the lexicon,
    missing video for ``modality`` video/av) runs before any file is written. Utterances with an
    empty transcript or unreadable audio are skipped and listed in ``bad_cuts.txt``."""
    from lhotse import RecordingSet, SupervisionSet

    if modality not in MODALITIES:
        raise AvsrInputError(None, f"modality must be one of {MODALITIES}, not {modality!r}")
    corpus, files = find_manifests(manifest_dir, corpus)
    bad: list[BadClip] = []
    jobs: list[tuple] = []
    texts: dict[str, list[str]] = {}
    no_video: list[str] = []
    for split, (rec_path, sup_path) in files.items():
        recordings = RecordingSet.from_file(rec_path) or RecordingSet.from_recordings([])
        sups = SupervisionSet.from_file(sup_path) or SupervisionSet.from_segments([])
        by_id = {r.id: r for r in recordings}
        for sup in sorted(sups, key=lambda s: s.id):
            text = normalise_text(sup.text)
            recording = by_id.get(sup.recording_id)
            if recording is None:
                bad.append(BadClip(sup.id, str(rec_path), f"recording {sup.recording_id!r} not in the manifest"))
            elif not text:
                bad.append(BadClip(sup.id, str(sup_path), f"empty transcript for {sup.id}"))
            else:
                video = None
                if modality != "audio":
                    video = _video_file(recording) if _spans_recording(recording, sup) else None
                    if video is None:
                        no_video.append(sup.id)
                texts.setdefault(split, []).append(text)
                jobs.append((split, recording, sup, text, video))
    if no_video:
        raise AvsrInputError(manifest_dir, f"--modality {modality} needs a video file per utterance; {len(no_video)} "
                             f"have none (or are segments of a longer video): {' '.join(no_video[:10])}")
    lexicon = normalised_lexicon(lexicon_path)
    if lm_text_path is not None:
        if not Path(lm_text_path).is_file():
            raise AvsrInputError(lm_text_path, "LM text file not found")
        lm_lines = [t for t in (normalise_text(line) for line in Path(lm_text_path).read_text(encoding="utf-8").splitlines()) if t]
    else:
        lm_lines = None  # the final training transcripts (after dev carving), below
    sources = {f"{split} transcripts": lines for split, lines in texts.items()}
    if lm_text_path is not None:
        sources[f"LM text {lm_text_path}"] = lm_lines
    check_lexicon_coverage(lexicon, lexicon_path, sources)
    if not texts.get("train"):
        raise AvsrInputError(files["train"][1], "no usable training utterance")

    results = map_chunks(_convert_job, jobs, num_jobs, str(out_audio_dir))
    splits: dict[str, list[UttRecord]] = {s: [] for s in SPLITS}
    for r in results:
        if isinstance(r, BadClip):
            bad.append(r)
        else:
            splits[r[0]].append(r[1])
    dev_from = "manifest"
    if "dev" not in files:
        speakers_known = all(sup.speaker for split, _rec, sup, _text, _video in jobs if split == "train")
        splits["train"], splits["dev"], dev_from = carve_dev(splits["train"], dev_fraction, seed, speakers_known)
        dev_from = f"carved from train by {dev_from}"
    if lm_lines is None:
        lm_lines = [r.text for r in sorted(splits["train"], key=lambda r: r.utt_id)]
    summary = {
        "corpus": corpus, "modality": modality, "manifest_dir": str(Path(manifest_dir).resolve()),
        "lexicon": str(Path(lexicon_path).resolve()), "lm_text": str(Path(lm_text_path).resolve()) if lm_text_path else None,
        "dev": dev_from, "seed": seed, "num_bad": len(bad),
        "splits": {s: {"utterances": len(r), "speakers": len({x.speaker for x in r}),
                       "hours": round(sum(sf.info(x.audio_path).duration for x in r) / 3600, 4)} for s, r in splits.items()},
    }
    write_index(index_dir, splits, lexicon, lm_lines, bad, summary)
    if bad:
        log.warning("%s: skipped %d utterances (see %s)", corpus, len(bad), Path(index_dir) / "bad_cuts.txt")
    log.info("%s: %s", corpus, json.dumps(summary["splits"]))
    return summary
