"""Stage 0 of ``egs/yesno``: any folder of wavs whose file name is the transcript.

Like Kaldi's and icefall's yesno recipes, but generic: ``yes_no_yes.wav`` is "yes no yes";
with a word map (``--word-map 0=no,1=yes``) ``0_1_0.wav`` is "no yes no" (the original
corpus' convention). Tokens are separated by ``_``, ``-`` or spaces and lower-cased. The folder
is searched recursively and only read; any sample rate and channel count is accepted (channels
averaged, resampled to 16 kHz mono PCM16 under ``out_audio_dir``).

Speaker-free: the names carry no speaker, so each utterance is its own speaker (Kaldi's advice
when speakers are unknown). The split is by utterance, a seeded shuffle of the sorted names:
``test_fraction`` of the clips test (default 0.5: the original 60 clips split 30/30 as in
icefall), then ``dev_fraction`` of the rest dev.

The lexicon has espeak-ng's phonemes for each word (the word spoken alone by ``en-us``; espeak
phonemises any word it can read), or letters with ``lexicon_source="grapheme"``.
"""
from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path
from typing import Optional, Sequence, Union

import soundfile as sf
from tqdm import tqdm

from avsr.corpora.custom.prepare import SPLITS, BadClip, check_lexicon_coverage, write_index, write_wav_16k
from avsr.data.types import UttRecord
from avsr.lang.lexicon import Lexicon, LexiconEntry, grapheme_lexicon
from avsr.utils.errors import AvsrInputError

log = logging.getLogger(__name__)
PathLike = Union[str, Path]
LEXICON_SOURCES = ("espeak", "grapheme")
ESPEAK_LEXICON_VOICE = "en-us"
_TOKEN_SEPARATORS = re.compile(r"[_\-\s]+")
_UNSAFE_ID_CHARS = re.compile(r"[^\w.\-]")


def parse_word_map(spec: Optional[str]) -> Optional[dict[str, str]]:
    """``"0=no,1=yes"`` -> ``{"0": "no", "1": "yes"}`` (None or "" -> None)."""
    if not spec:
        return None
    mapping = {}
    for item in spec.split(","):
        token, sep, word = item.partition("=")
        if not sep or not token.strip() or not word.strip():
            raise AvsrInputError(None, f"--word-map entries look like TOKEN=WORD, got {item!r} in {spec!r}")
        mapping[token.strip().lower()] = word.strip().lower()
    return mapping


def transcript_from_name(path: PathLike, word_map: Optional[dict[str, str]] = None) -> str:
    """The transcript a file name spells; raises AvsrInputError for an empty one or (with a map) an unmapped token."""
    tokens = [t for t in _TOKEN_SEPARATORS.split(Path(path).stem.lower()) if t]
    if not tokens:
        raise AvsrInputError(path, "empty transcript: the file name has no word")
    if word_map is not None:
        unknown = sorted({t for t in tokens if t not in word_map})
        if unknown:
            raise AvsrInputError(path, f"token(s) {' '.join(unknown)} not in --word-map {sorted(word_map)}")
        tokens = [word_map[t] for t in tokens]
    return " ".join(tokens)


def utterance_id(wav: Path, wav_dir: Path) -> str:
    """The path below ``wav_dir`` without the suffix, ``/`` -> ``-``, other unsafe characters -> ``_``."""
    rel = wav.relative_to(wav_dir).with_suffix("")
    return _UNSAFE_ID_CHARS.sub("_", "-".join(rel.parts))


def find_wavs(wav_dir: PathLike) -> list[Path]:
    """Every ``*.wav`` (any case) below ``wav_dir``, sorted."""
    wav_dir = Path(wav_dir)
    if not wav_dir.is_dir():
        raise AvsrInputError(wav_dir, "wav directory not found")
    wavs = sorted(p for p in wav_dir.rglob("*") if p.is_file() and p.suffix.lower() == ".wav")
    if not wavs:
        raise AvsrInputError(wav_dir, "no .wav file in this directory")
    return wavs


def split_utterances(utt_ids: Sequence[str], test_fraction: float = 0.5, dev_fraction: float = 0.1,
                     seed: int = 0) -> dict[str, list[str]]:
    """Seeded shuffle of the sorted ids: ``round(test_fraction * n)`` test (at least 1 when n >= 2),
    then ``round(dev_fraction * rest)`` dev (at least 1 when the rest has 2+ and dev_fraction > 0)."""
    ids = sorted(utt_ids)
    random.Random(seed).shuffle(ids)
    n_test = max(1, round(test_fraction * len(ids))) if len(ids) >= 2 and test_fraction > 0 else 0
    test, rest = ids[:n_test], ids[n_test:]
    n_dev = max(1, round(dev_fraction * len(rest))) if len(rest) >= 2 and dev_fraction > 0 else 0
    return {"train": sorted(rest[n_dev:]), "dev": sorted(rest[:n_dev]), "test": sorted(test)}


def espeak_word_lexicon(words: Sequence[str], voice: str = ESPEAK_LEXICON_VOICE) -> Lexicon:
    """espeak-ng's pronunciation of each word said alone (stress marks stripped).

    Raises AvsrInputError listing the words espeak cannot read as one word (e.g. "1990" is
    read as several): use the grapheme lexicon or write one for them."""
    from avsr.corpora.synthetic.espeak_tts import EspeakError, VoiceSpec, synthesize

    entries, failed = [], []
    for word in sorted(set(words)):
        try:
            entries.append(LexiconEntry(word, tuple(synthesize([word], VoiceSpec(voice)).word_phones[0])))
        except EspeakError:
            failed.append(word)
    if failed:
        raise AvsrInputError("espeak-ng", f"cannot phonemise {len(failed)} word(s) as single words: {' '.join(failed[:20])} "
                             "(use --lexicon-source grapheme)")
    return Lexicon(entries)


def make_word_lexicon(words: Sequence[str], source: str = "espeak") -> Lexicon:
    if source == "espeak":
        return espeak_word_lexicon(words)
    if source == "grapheme":
        return grapheme_lexicon(sorted(set(words)))
    raise AvsrInputError(None, f"lexicon source must be one of {LEXICON_SOURCES}, not {source!r}")


def prepare_folder(
    wav_dir: PathLike,
    out_audio_dir: PathLike,
    index_dir: PathLike,
    word_map: Optional[dict[str, str]] = None,
    test_fraction: float = 0.5,
    dev_fraction: float = 0.1,
    seed: int = 0,
    lexicon_source: str = "espeak",
) -> dict:
    """Index a folder of transcript-named wavs (see the module docstring); returns the summary.

    Writes ``<index_dir>/{train,dev,test}.jsonl``, ``lexicon.txt`` (every word of every split),
    ``lm_text.txt`` (training transcripts), ``bad_cuts.txt`` (files skipped: empty or unmapped
    name, unreadable or empty audio) and ``prep.json``."""
    wav_dir = Path(wav_dir)
    bad: list[BadClip] = []
    found: dict[str, tuple[Path, str]] = {}
    for wav in find_wavs(wav_dir):
        utt = utterance_id(wav, wav_dir)
        try:
            found[utt] = (wav, transcript_from_name(wav, word_map))
        except AvsrInputError as err:
            bad.append(BadClip(utt, str(wav), err.problem))
    records: dict[str, UttRecord] = {}
    rates: dict[int, int] = {}
    for utt, (wav, text) in tqdm(sorted(found.items()), desc="16 kHz wavs"):
        try:
            try:
                samples, sr = sf.read(str(wav), dtype="float32", always_2d=True)
            except Exception as err:  # soundfile's own error types
                raise AvsrInputError(wav, f"unreadable audio ({err})") from None
            out = Path(out_audio_dir) / f"{utt}.wav"
            write_wav_16k(out, samples.T, sr)
        except AvsrInputError as err:
            bad.append(BadClip(utt, str(wav), err.problem))
            continue
        rates[sr] = rates.get(sr, 0) + 1
        records[utt] = UttRecord(utt_id=utt, speaker=utt, audio_path=str(out.resolve()), video_path=None, text=text)
    if not records:
        raise AvsrInputError(wav_dir, f"no usable wav ({len(bad)} skipped, e.g. {bad[0].utt_id}: {bad[0].reason})"
                             if bad else "no usable wav")
    split_ids = split_utterances(list(records), test_fraction, dev_fraction, seed)
    splits = {s: [records[u] for u in split_ids[s]] for s in SPLITS}
    lexicon = make_word_lexicon([w for r in records.values() for w in r.text.split()], lexicon_source)
    check_lexicon_coverage(lexicon, "lexicon", {"transcripts": [r.text for r in records.values()]})
    summary = {
        "wav_dir": str(wav_dir.resolve()), "word_map": word_map, "seed": seed, "lexicon_source": lexicon_source,
        "input_sampling_rates": {str(k): v for k, v in sorted(rates.items())}, "num_bad": len(bad),
        "splits": {s: len(r) for s, r in splits.items()}, "words": lexicon.words,
    }
    write_index(index_dir, splits, lexicon, [r.text for r in splits["train"]], bad, summary)
    if bad:
        log.warning("skipped %d files (see %s)", len(bad), Path(index_dir) / "bad_cuts.txt")
    log.info("yesno folder %s: %s", wav_dir, json.dumps(summary["splits"]))
    return summary
