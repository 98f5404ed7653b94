"""Data preparation for LRS3-TED (Afouras, Chung & Zisserman, 2018) from a user's download.

The corpus is only read. Layout (as distributed)::

    <corpus>/{pretrain,trainval,test}/<video_id>/<clip>.mp4   25 fps face track + AAC audio
    <corpus>/{pretrain,trainval,test}/<video_id>/<clip>.txt   transcript (+ word alignment)

A ``.txt`` starts with ``Key:  value`` header lines (``Text:  WORDS IN UPPER CASE``,
``Conf:  3``, sometimes more such as ``Ref:``), then blank-line separated tables, each with a
header line: ``WORD START END ASDSCORE`` (word times in seconds from the start of the clip) and,
in some releases, ``FRAME X Y W H`` (face boxes; ignored here). Clips without a word table get
records without word timings.

What we write, outside the corpus:

- ``<media>/wav/<subset>/<video_id>/<clip>.wav``: 16 kHz mono PCM16 from the mp4's audio
  track, trimmed/padded by at most :data:`MAX_AV_FIX_SECONDS` to the video's exact length
  (AAC priming makes audio and video lengths differ by a few ms);
- long ``pretrain`` clips (last word ending after ``max_seconds``) are cut at word boundaries
  into segments of at most ``max_seconds`` (as auto_avsr and AV-HuBERT do, preferring long
  pauses as cut points): ``<media>/wav/pretrain/<video_id>/<clip>_<k>.wav`` plus the matching
  video frames re-encoded as ``<media>/video/pretrain/<video_id>/<clip>_<k>.mp4`` (gray H.264,
  what every later stage reads);
- ``<index>/{train,dev,test}.jsonl`` (:class:`UttRecord`), ``bad_cuts.txt``, ``split.json``
  and ``lexicon.txt`` (CMUdict for the training words, espeak-ng mapped to ARPAbet for the rest).

Splits: ``test`` = the ``test`` folder; ``dev`` = the ``trainval`` clips of a seeded choice of
video ids (each TED talk is one speaker) totalling at least ``dev_size`` clips; ``train`` = the
remaining ``pretrain`` + ``trainval`` clips, minus every clip of a dev (or test) video id, so the
three splits are speaker-disjoint.

Text convention (the same as GRID and the embedded corpus): lower case words separated by
single spaces, apostrophes kept (``it's``), other punctuation removed, ``{LG}``/``{NS}``-style
noise tags dropped.
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np
import soundfile as sf
from tqdm import tqdm

from avsr.data.records import write_records
from avsr.data.types import BadClip, Segment, UttRecord
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path, write_json_atomic, write_text_atomic
from avsr.utils.parallel import job_pool
from avsr.utils.paths import ensure_outside_corpus
from avsr.video.io import probe_video, read_audio_track, read_video_frames, write_av_mp4

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]

SUBSETS: tuple[str, ...] = ("pretrain", "trainval", "test")
TRAIN_SUBSETS: tuple[str, ...] = ("pretrain", "trainval")
SPLITS: tuple[str, ...] = ("train", "dev", "test")
SAMPLING_RATE = 16000
WORD_TABLE_HEADER = ("WORD", "START", "END", "ASDSCORE")
# Segment length limit for pretrain clips: AV-HuBERT cuts above 15 s, auto_avsr at 24 s; a CPU
# recipe prefers the shorter one (memory grows with the square of the length in attention).
DEFAULT_MAX_SECONDS = 15.0
# Silence kept around the words of a cut segment (less when the pause is shorter).
SEGMENT_PAD_SECONDS = 0.25
# Audio and video of one clip may differ by this much (AAC frames are 1024 samples = 64 ms at
# 16 kHz, so the decoded track ends up to ~2 AAC frames after the video); the wav is then
# trimmed or zero-padded to the video length. More than that is a broken clip.
MAX_AV_FIX_SECONDS = 0.16
# auto_avsr holds out 1,200 trainval clips for validation; AV-HuBERT 1,000. We take whole
# speakers (video ids) until at least this many clips are held out.
DEFAULT_DEV_SIZE = 1000

_NOISE_TAG = re.compile(r"[{<\[][^}>\]]*[}>\]]")  # {LG}, {NS}, <unk>-like and [noise] tags
_NOT_WORD_CHAR = re.compile(r"[^a-z0-9' ]+")


# ---------------------------------------------------------------------------------- text

def normalize_words(raw: str) -> list[str]:
    """LRS3 text -> our word list: noise tags dropped, lower case, punctuation (except
    apostrophes inside words) removed, whitespace collapsed. ``"IT'S {LG} OK,"`` -> ``["it's", "ok"]``."""
    text = _NOISE_TAG.sub(" ", raw).lower()
    text = _NOT_WORD_CHAR.sub(" ", text.replace("\u2019", "'"))
    words = []
    for token in text.split():
        token = token.strip("'")  # quotes around a word, not an apostrophe inside it
        if token:
            words.append(token)
    return words


@dataclass(frozen=True)
class Lrs3Transcript:
    """A parsed ``.txt``: the normalised words, the ``Conf:`` value (None if absent) and the
    word alignment (normalised symbols, seconds; empty when the file has no word table)."""

    words: list[str]
    conf: Optional[str]
    alignment: list[Segment]

    @property
    def text(self) -> str:
        return " ".join(self.words)


def _read_text_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise AvsrInputError(path, f"unreadable transcript file ({err.__class__.__name__})") from None


def _parse_word_table(path: Path, lines: list[tuple[int, str]]) -> list[Segment]:
    """Rows ``WORD START END ASDSCORE`` -> word segments; noise-tag rows are dropped."""
    segments: list[Segment] = []
    last_start = -math.inf
    for line_no, line in lines:
        fields = line.split()
        try:
            if len(fields) != 4:
                raise ValueError
            start, end = float(fields[1]), float(fields[2])
            float(fields[3])
        except ValueError:
            raise AvsrInputError(path, f"line {line_no}: expected 'WORD START END ASDSCORE', got {line.strip()!r}") from None
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < start:
            raise AvsrInputError(path, f"line {line_no}: bad word times {fields[1]}..{fields[2]}")
        if start < last_start:
            raise AvsrInputError(path, f"line {line_no}: word starts at {start} s, before the previous word ({last_start} s)")
        last_start = start
        for word in normalize_words(fields[0]):  # "ROCK'N'ROLL" stays one word; tags vanish
            segments.append(Segment(word, start, end))
    return segments


def parse_lrs3_txt(path: PathLike) -> Lrs3Transcript:
    """Parse one LRS3 ``.txt``. Raises :class:`AvsrInputError` naming the file for a missing
    ``Text:`` line, an empty transcript, or a malformed word-table row."""
    path = Path(path)
    lines = _read_text_file(path).splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].startswith("Text:"):
        raise AvsrInputError(path, "no 'Text:' line at the start of the file (not an LRS3 transcript)")
    header: dict[str, str] = {}
    i = first
    while i < len(lines) and lines[i].strip() and ":" in lines[i].split()[0]:
        key, _, value = lines[i].partition(":")
        header[key.strip()] = value.strip()
        i += 1
    words = normalize_words(header.get("Text", ""))
    if not words:
        raise AvsrInputError(path, "empty transcript (no word on the 'Text:' line)")

    # Tables: a header line, rows until a blank line. Only the word table is read.
    alignment: list[Segment] = []
    seen_word_table = False
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        table_header = tuple(lines[i].split())
        start = i + 1
        i = start
        while i < len(lines) and lines[i].strip():
            i += 1
        if table_header == WORD_TABLE_HEADER:
            if seen_word_table:
                raise AvsrInputError(path, f"line {start}: a second word table")
            seen_word_table = True
            alignment = _parse_word_table(path, [(n + 1, lines[n]) for n in range(start, i)])
        elif all(t.isalpha() and t.isupper() for t in table_header):
            continue  # FRAME X Y W H (face boxes) or another table we do not use
        else:
            raise AvsrInputError(
                path, f"line {start}: unexpected line {lines[start - 1].strip()!r} (expected a table header such as 'WORD START END ASDSCORE')"
            )
    return Lrs3Transcript(words=words, conf=header.get("Conf"), alignment=alignment)


# ---------------------------------------------------------------------------------- clips

@dataclass(frozen=True)
class Lrs3Clip:
    """One ``<subset>/<video_id>/<clip>.mp4`` with its ``.txt``."""

    subset: str
    video_id: str
    clip: str
    video_path: Path
    txt_path: Path

    @property
    def utt_id(self) -> str:
        # pretrain and trainval reuse video ids and clip numbers: the subset keeps ids unique;
        # the video id (= speaker) comes first so ids sort by speaker, as Kaldi expects.
        return f"{self.video_id}_{self.subset}_{self.clip}"




def check_download(corpus_dir: PathLike, subsets: Sequence[str] = SUBSETS) -> dict[str, int]:
    """Number of mp4 clips per wanted subset. Raises :class:`AvsrInputError` explaining what to
    fetch when the corpus directory or a wanted subset folder is missing or empty."""
    corpus_dir = Path(corpus_dir)
    how = "download LRS3 from https://www.robots.ox.ac.uk/~vgg/data/lip_reading/lrs3.html (licence required) and unpack it here"
    if not corpus_dir.is_dir():
        raise AvsrInputError(corpus_dir, f"LRS3 corpus directory not found: {how}")
    counts = {s: sum(1 for _ in (corpus_dir / s).glob("*/*.mp4")) if (corpus_dir / s).is_dir() else 0 for s in subsets}
    missing = [s for s, n in counts.items() if n == 0]
    if missing:
        found = ", ".join(f"{s} {n}" for s, n in counts.items() if n)
        raise AvsrInputError(
            corpus_dir,
            f"no clips in {', '.join(f'{s}/' for s in missing)} (found: {found or 'nothing'}): {how} "
            f"(expected <subset>/<video_id>/<clip>.mp4 + .txt), or leave the subset out",
        )
    return counts


def find_lrs3_clips(corpus_dir: PathLike, subsets: Sequence[str] = SUBSETS) -> list[Lrs3Clip]:
    """Every ``<subset>/<video_id>/<clip>.mp4`` of the wanted subsets, sorted; an mp4 without its
    ``.txt`` is still returned (its preparation then fails with a clear reason)."""
    corpus_dir = Path(corpus_dir)
    clips = []
    for subset in subsets:
        for video in sorted((corpus_dir / subset).glob("*/*.mp4")):
            clips.append(Lrs3Clip(subset, video.parent.name, video.stem, video, video.with_suffix(".txt")))
    return clips


# ---------------------------------------------------------------------------------- segmentation

@dataclass(frozen=True)
class PlannedSegment:
    """A piece of a long clip: [start, end) in seconds of the original clip, and its words."""

    start: float
    end: float
    words: tuple[Segment, ...]


def plan_segments(words: Sequence[Segment], max_seconds: float, pad: float = SEGMENT_PAD_SECONDS) -> list[PlannedSegment]:
    """Cut a word alignment into segments of at most ``max_seconds`` (a single longer word
    stays whole), at word boundaries.

    Greedy: a segment grows word by word; when the next word would not fit, it is closed at
    the longest pause among its words ending in its second half (so cuts fall in pauses
    rather than between two tightly linked words), and the next segment starts after it.
    Each segment keeps up to ``pad`` seconds of the surrounding silence, never more than half
    of the pause on either side, so neighbouring segments never overlap.
    """
    if max_seconds <= 0:
        raise ValueError(f"max_seconds must be > 0, got {max_seconds}")
    words = list(words)
    groups: list[list[Segment]] = []
    i = 0
    while i < len(words):
        j = i + 1  # words[i:j] is the current segment
        while j < len(words) and words[j].end - words[i].start <= max_seconds - 2 * pad:
            j += 1
        if j < len(words) and j - i > 1:
            half = words[i].start + (max_seconds - 2 * pad) / 2
            candidates = [k for k in range(i + 1, j + 1) if words[k - 1].end >= half] or [j]
            j = max(candidates, key=lambda k: (words[k].start - words[k - 1].end if k < len(words) else 0.0, k))
        groups.append(words[i:j])
        i = j

    segments = []
    for n, group in enumerate(groups):
        before = groups[n - 1][-1].end if n > 0 else None
        after = groups[n + 1][0].start if n + 1 < len(groups) else None
        start = group[0].start - pad if before is None else max(group[0].start - pad, (before + group[0].start) / 2)
        end = group[-1].end + pad if after is None else min(group[-1].end + pad, (group[-1].end + after) / 2)
        segments.append(PlannedSegment(max(0.0, start), end, tuple(group)))
    return segments


# ---------------------------------------------------------------------------------- one clip

def _fit_audio_to_video(audio: np.ndarray, num_frames: int, fps: float, video_path: Path) -> np.ndarray:
    """Trim or zero-pad the audio to exactly the video's length (a few ms of AAC padding)."""
    target = int(round(num_frames / fps * SAMPLING_RATE))
    if abs(len(audio) - target) > MAX_AV_FIX_SECONDS * SAMPLING_RATE:
        raise AvsrInputError(
            video_path,
            f"video has {num_frames} frames ({num_frames / fps:.2f} s), audio {len(audio) / SAMPLING_RATE:.3f} s: AV length mismatch",
        )
    if len(audio) >= target:
        return audio[:target]
    return np.concatenate([audio, np.zeros(target - len(audio), dtype=audio.dtype)])


def _write_wav(path: Path, audio: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(audio, -1.0, 1.0), SAMPLING_RATE, subtype="PCM_16", format="WAV")


def wav_path_for(clip: Lrs3Clip, media_dir: PathLike, segment: Optional[int] = None) -> Path:
    name = clip.clip if segment is None else f"{clip.clip}_{segment:02d}"
    return Path(media_dir) / "wav" / clip.subset / clip.video_id / f"{name}.wav"


def segment_video_path_for(clip: Lrs3Clip, media_dir: PathLike, segment: int) -> Path:
    return Path(media_dir) / "video" / clip.subset / clip.video_id / f"{clip.clip}_{segment:02d}.mp4"


def _needs_cutting(clip: Lrs3Clip, transcript: Lrs3Transcript, max_seconds: Optional[float]) -> bool:
    # Decided from the .txt alone, so a re-run knows the outputs without decoding the video.
    return (
        max_seconds is not None
        and clip.subset == "pretrain"
        and bool(transcript.alignment)
        and transcript.alignment[-1].end > max_seconds
    )


def _whole_clip(clip: Lrs3Clip, transcript: Lrs3Transcript, media_dir: Path) -> UttRecord:
    wav = wav_path_for(clip, media_dir)
    if not wav.is_file():
        probe = probe_video(clip.video_path)  # raises for undecodable / corrupt video
        if not probe.has_audio:
            raise AvsrInputError(clip.video_path, "video has no audio track")
        audio = _fit_audio_to_video(read_audio_track(clip.video_path, SAMPLING_RATE), probe.num_frames, probe.fps, clip.video_path)
        _write_wav(wav, audio)  # written last: its presence means the clip passed every check
    # Word timings only when the table says the same words as the Text line.
    aligned = [s.symbol for s in transcript.alignment] == transcript.words
    if transcript.alignment and not aligned:
        logger.debug("%s: word table differs from the Text line; no word timings kept", clip.txt_path)
    return UttRecord(
        utt_id=clip.utt_id,
        speaker=clip.video_id,
        audio_path=str(wav.resolve()),
        video_path=str(clip.video_path.resolve()),
        text=transcript.text,
        words=list(transcript.alignment) if aligned else [],
    )


def _container_fps(video_path: Path) -> float:
    """The video stream's frame rate from the container header (no decoding)."""
    import av

    try:
        with av.open(str(video_path)) as container:
            if not container.streams.video:
                raise AvsrInputError(video_path, "no video stream")
            rate = container.streams.video[0].average_rate or container.streams.video[0].guessed_rate
    except av.error.FFmpegError as err:
        raise AvsrInputError(video_path, f"corrupt video: cannot open the container ({err})") from None
    if not rate or float(rate) <= 0:
        raise AvsrInputError(video_path, "video stream has no frame rate")
    return float(rate)


def _cut_clip(clip: Lrs3Clip, transcript: Lrs3Transcript, media_dir: Path, max_seconds: float) -> list[UttRecord]:
    plan = plan_segments(transcript.alignment, max_seconds)
    fps = _container_fps(clip.video_path)
    # Cut on video frame boundaries so audio and video of a segment have the same length.
    spans = [(int(math.floor(seg.start * fps + 1e-6)), int(math.ceil(seg.end * fps - 1e-6))) for seg in plan]
    outputs = [(segment_video_path_for(clip, media_dir, k), wav_path_for(clip, media_dir, k)) for k in range(len(plan))]
    if not all(video.is_file() and wav.is_file() for video, wav in outputs):
        probe = probe_video(clip.video_path)  # raises for undecodable / corrupt video
        if not probe.has_audio:
            raise AvsrInputError(clip.video_path, "video has no audio track")
        frames = read_video_frames(clip.video_path, gray=True)
        audio = _fit_audio_to_video(read_audio_track(clip.video_path, SAMPLING_RATE), len(frames), fps, clip.video_path)
        samples_per_frame = SAMPLING_RATE / fps
        for k, ((first, last), (video_out, wav_out)) in enumerate(zip(spans, outputs)):
            last = min(last, len(frames))
            if last <= first:
                raise AvsrInputError(clip.txt_path, f"words of segment {k} ({plan[k].start:.2f}-{plan[k].end:.2f} s) lie beyond the video's {len(frames)} frames")
            piece = audio[int(round(first * samples_per_frame)) : int(round(last * samples_per_frame))]
            write_av_mp4(video_out, frames[first:last], fps=int(round(fps)), audio=piece, sampling_rate=SAMPLING_RATE)
            _write_wav(wav_out, piece)  # last: its presence marks the segment complete
    records = []
    for k, (seg, (first, _), (video_out, wav_out)) in enumerate(zip(plan, spans, outputs)):
        offset = first / fps
        records.append(
            UttRecord(
                utt_id=f"{clip.utt_id}_{k:02d}",
                speaker=clip.video_id,
                audio_path=str(wav_out.resolve()),
                video_path=str(video_out.resolve()),
                text=" ".join(s.symbol for s in seg.words),
                words=[Segment(s.symbol, round(s.start - offset, 4), round(s.end - offset, 4)) for s in seg.words],
            )
        )
    return records


def prepare_clip(clip: Lrs3Clip, media_dir: PathLike, max_seconds: Optional[float] = DEFAULT_MAX_SECONDS) -> list[UttRecord]:
    """Validate one clip, extract its audio (and cut it when it is a long pretrain clip) and return
    its record(s). Outputs that already exist are not rewritten. Raises :class:`AvsrInputError`
    naming the offending file."""
    if not clip.txt_path.is_file():
        raise AvsrInputError(clip.txt_path, "transcript file missing (every .mp4 needs its .txt)")
    transcript = parse_lrs3_txt(clip.txt_path)
    media_dir = Path(media_dir)
    if _needs_cutting(clip, transcript, max_seconds):
        return _cut_clip(clip, transcript, media_dir, float(max_seconds))
    return [_whole_clip(clip, transcript, media_dir)]


def _prepare_or_report(args: tuple[Lrs3Clip, str, Optional[float]]) -> Union[list[UttRecord], BadClip]:
    clip, media_dir, max_seconds = args
    try:
        return prepare_clip(clip, media_dir, max_seconds)
    except AvsrInputError as err:
        return BadClip(clip.utt_id, err.path or str(clip.video_path), err.problem)


# ---------------------------------------------------------------------------------- splits

def _rank(seed: int, video_id: str) -> str:
    return hashlib.sha256(f"lrs3-dev:{seed}:{video_id}".encode("utf-8")).hexdigest()


def choose_dev_speakers(clips: Iterable[Lrs3Clip], dev_size: int, seed: int) -> list[str]:
    """Video ids (speakers) of ``trainval`` held out for dev: taken in a seeded pseudo-random
    order until their trainval clips number at least ``dev_size``. Test ids are never chosen."""
    clips = list(clips)
    test_ids = {c.video_id for c in clips if c.subset == "test"}
    per_id: dict[str, int] = {}
    for c in clips:
        if c.subset == "trainval" and c.video_id not in test_ids:
            per_id[c.video_id] = per_id.get(c.video_id, 0) + 1
    chosen, total = [], 0
    for video_id in sorted(per_id, key=lambda v: _rank(seed, v)):
        if total >= dev_size:
            break
        chosen.append(video_id)
        total += per_id[video_id]
    return sorted(chosen)


def assign_split(clip: Lrs3Clip, dev_ids: set[str], test_ids: set[str]) -> Optional[str]:
    """``test`` / ``dev`` / ``train``, or None for a training-subset clip of a dev or test speaker."""
    if clip.subset == "test":
        return "test"
    if clip.video_id in test_ids:
        return None
    if clip.video_id in dev_ids:
        return "dev" if clip.subset == "trainval" else None
    return "train"


# ---------------------------------------------------------------------------------- lexicon

# espeak-ng (en-us) phoneme mnemonics -> ARPAbet (CMUdict's phone set, no stress), for the
# training words CMUdict lacks (names, rare words). Diphthongs with r map to two phones.
ESPEAK_TO_ARPABET: dict[str, tuple[str, ...]] = {
    "p": ("P",), "b": ("B",), "t": ("T",), "d": ("D",), "k": ("K",), "g": ("G",), "f": ("F",), "v": ("V",),
    "T": ("TH",), "D": ("DH",), "s": ("S",), "z": ("Z",), "S": ("SH",), "Z": ("ZH",), "h": ("HH",),
    "tS": ("CH",), "dZ": ("JH",), "m": ("M",), "n": ("N",), "N": ("NG",), "l": ("L",), "r": ("R",),
    "w": ("W",), "j": ("Y",), "x": ("K",), "?": (),
    "a": ("AE",), "aa": ("AA",), "a#": ("AH",), "A:": ("AA",), "A": ("AA",), "A@": ("AA", "R"), "aI": ("AY",),
    "aI@": ("AY", "ER"), "aI3": ("AY", "ER"), "aU": ("AW",), "aU@": ("AW", "ER"), "E": ("EH",), "e": ("EH",),
    "e@": ("EH", "R"), "eI": ("EY",), "i": ("IY",), "i:": ("IY",), "I": ("IH",), "i@": ("IH", "R"),
    "i@3": ("IH", "R"), "0": ("AA",), "O": ("AO",), "O:": ("AO",), "O@": ("AO", "R"), "o@": ("AO", "R"),
    "oU": ("OW",), "o": ("OW",), "OI": ("OY",), "u": ("UW",), "u:": ("UW",), "U": ("UH",), "U@": ("UH", "R"),
    "V": ("AH",), "@": ("AH",), "@L": ("AH", "L"), "3:": ("ER",), "3": ("ER",), "@r": ("ER",),
}


def espeak_to_arpabet(phones: Sequence[str]) -> list[str]:
    """Map espeak mnemonics (stress already stripped) to ARPAbet; variant marks (``I2``, ``t#``,
    ``r-``, ``@5``) fall back to their base phone; unknown symbols are dropped."""
    out: list[str] = []
    for phone in phones:
        for candidate in (phone, phone.rstrip("#-0123456789") or phone, phone[:1]):
            if candidate in ESPEAK_TO_ARPABET:
                out.extend(ESPEAK_TO_ARPABET[candidate])
                break
        else:
            logger.debug("espeak phone %r has no ARPAbet mapping; dropped", phone)
    return out


def training_lexicon_lines(words: Iterable[str], voice: str = "en-us") -> tuple[list[str], list[str]]:
    """``word p1 p2 ...`` lines for ``words``: every CMUdict pronunciation (stress removed), and for
    words CMUdict lacks, espeak-ng's pronunciation mapped to ARPAbet. Returns (lines, words that
    needed espeak)."""
    from avsr.lang.lexicon import cmudict_lexicon

    words = sorted(set(words))
    lexicon = cmudict_lexicon(words, on_missing="skip")
    lines = [f"{e.word} {' '.join(e.phones)}" for e in lexicon.entries]
    covered = set(lexicon.words)
    missing = [w for w in words if w not in covered]
    if missing:
        from avsr.corpora.synthetic.espeak_tts import VoiceSpec, synthesize

        for word in tqdm(missing, desc="espeak pronunciations", unit="word", disable=len(missing) < 100):
            phones = espeak_to_arpabet(synthesize([word], VoiceSpec(voice)).word_phones[0])
            if phones:
                lines.append(f"{word} {' '.join(phones)}")
            else:
                logger.warning("no pronunciation for %r (neither CMUdict nor espeak-ng)", word)
    return sorted(set(lines)), missing


# ---------------------------------------------------------------------------------- corpus

def prepare_lrs3(
    corpus_dir: PathLike,
    media_dir: PathLike,
    index_dir: PathLike,
    subsets: Sequence[str] = SUBSETS,
    dev_size: int = DEFAULT_DEV_SIZE,
    seed: int = 1234,
    max_seconds: Optional[float] = DEFAULT_MAX_SECONDS,
    num_jobs: int = 1,
    lexicon: bool = True,
) -> dict[str, list[UttRecord]]:
    """Prepare LRS3: records per split in ``<index_dir>/{train,dev,test}.jsonl``, bad clips in
    ``bad_cuts.txt`` (``utt_id<TAB>path<TAB>reason``), the split in ``split.json`` and (unless
    ``lexicon`` is False) ``lexicon.txt`` for the words of every split. Returns the records per split."""
    corpus_dir, media_dir, index_dir = Path(corpus_dir), Path(media_dir), Path(index_dir)
    ensure_outside_corpus(corpus_dir, media_dir, "the media output directory")
    ensure_outside_corpus(corpus_dir, index_dir, "the index directory")
    unknown = [s for s in subsets if s not in SUBSETS]
    if unknown:
        raise ValueError(f"unknown LRS3 subset(s) {unknown}; known: {SUBSETS}")
    counts = check_download(corpus_dir, subsets)
    logger.info("LRS3 at %s: %s", corpus_dir, ", ".join(f"{s} {n} clips" for s, n in counts.items()))
    clips = find_lrs3_clips(corpus_dir, subsets)
    dev_ids = set(choose_dev_speakers(clips, dev_size, seed))
    test_ids = {c.video_id for c in clips if c.subset == "test"}
    wanted = [(c, assign_split(c, dev_ids, test_ids)) for c in clips]
    dropped = sum(1 for _, split in wanted if split is None)

    jobs = [(c, str(media_dir), max_seconds) for c, split in wanted if split is not None]
    splits_of = [split for _, split in wanted if split is not None]
    progress = dict(total=len(jobs), desc="LRS3 clips", unit="clip")
    with job_pool(num_jobs if len(jobs) > 1 else 1) as pool:
        if pool is None:
            results = [_prepare_or_report(job) for job in tqdm(jobs, **progress)]
        else:  # decoding is CPU-bound: processes (the shared spawn pool), order preserved
            results = list(tqdm(pool.map(_prepare_or_report, jobs, chunksize=4), **progress))

    by_split: dict[str, list[UttRecord]] = {split: [] for split in SPLITS}
    bad = [r for r in results if isinstance(r, BadClip)]
    for split, result in zip(splits_of, results):
        if not isinstance(result, BadClip):
            by_split[split].extend(result)
    for split, records in by_split.items():
        write_records(index_dir / f"{split}.jsonl", records)
    write_text_atomic(index_dir / "bad_cuts.txt", "".join(f"{b.utt_id}\t{b.path}\t{b.reason}\n" for b in bad))
    write_json_atomic(
        index_dir / "split.json",
        {
            "seed": seed, "dev_size": dev_size, "max_seconds": max_seconds, "subsets": list(subsets),
            "dev_speakers": sorted(dev_ids), "clips_dropped_as_dev_or_test_speaker": dropped,
            "utterances": {s: len(r) for s, r in by_split.items()},
            "speakers": {s: len({x.speaker for x in r}) for s, r in by_split.items()},
        },
    )
    if lexicon:
        # every split: stage 6 aligns dev and test too (CMUdict, espeak-ng for the rest, as a G2P would)
        lines, by_espeak = training_lexicon_lines(w for recs in by_split.values() for r in recs for w in r.text.split())
        write_text_atomic(index_dir / "lexicon.txt", "".join(f"{line}\n" for line in lines))
        logger.info("lexicon.txt: %d entries, %d words from espeak-ng (not in CMUdict)", len(lines), len(by_espeak))
    logger.info(
        "LRS3: %d clips, %d bad (see %s), %d training-subset clips of dev/test speakers left out; %s",
        len(clips), len(bad), index_dir / "bad_cuts.txt", dropped,
        ", ".join(f"{s} {len(r)} utts / {len({x.speaker for x in r})} spk" for s, r in by_split.items()),
    )
    return by_split
