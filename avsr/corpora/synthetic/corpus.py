"""Stage 0 of the default recipe: generate the embedded "synthetic GRID" corpus.

Every speaker (an espeak-ng voice, :mod:`avsr.corpora.synthetic.speakers`) reads its own set of distinct
GRID sentences. For each utterance we write

- ``<out_dir>/<spk>/<utt>.wav``  16 kHz mono PCM16, speech padded with 0.3-0.5 s silence,
  its length a whole number of video frames;
- ``<out_dir>/<spk>/<utt>.mp4``  the rendered face video (25 fps, gray) with the same audio;
- ``<out_dir>/<spk>/<utt>.json`` timings and face boxes, written last: its presence (with
  matching generation parameters) marks the utterance complete, so reruns skip it.

and, in ``index_dir``, one :class:`UttRecord` JSONL per split (speaker-disjoint), the espeak
lexicon observed on the training speakers, speakers.json and corpus_stats.json.

Noise talkers (``config.noise_talkers``, ids n01..) read GRID sentences too, audio only
(``<out_dir>/<nXX>/<utt>.{wav,json}``, records in ``index_dir/noise_talkers.jsonl``): stage 2
builds the test babble from them, so test noise never contains a training talker. With
``config.lip_dynamics`` the lips lead the audio (see :mod:`avsr.corpora.synthetic.lip_motion`);
the lead of every utterance is in its sidecar (``lip_lead_s``) and in ``index_dir/lip_leads.json``
(ground truth for AV-sync estimators).

Determinism: espeak-ng carries a little state from one utterance to the next inside a process
(see :mod:`avsr.corpora.synthetic.espeak_tts`), so each speaker is synthesised, in a fixed order, by a fresh
worker process (forkserver, one task per child). Rerunning re-synthesises the skipped
utterances too (cheap) to keep that history identical; rendering and encoding are skipped.
Hence the output is byte-identical for any ``num_jobs`` and across interrupted runs.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import logging
import math
import multiprocessing as mp
import queue
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import soundfile as sf
from tqdm import tqdm

from avsr.corpora.synthetic.config import UNSEEN_ACCENT_SPLIT, CorpusConfig
from avsr.corpora.synthetic.espeak_tts import SAMPLING_RATE, synthesize
from avsr.corpora.synthetic.lip_motion import TalkerDynamics, sample_talker_dynamics
from avsr.corpora.grid.grammar import GRID_SLOTS, sample_sentence, sentence_to_code
from avsr.data.records import write_records
from avsr.corpora.synthetic.speakers import SpeakerSpec, make_corpus_speakers, make_shared_corpus_speakers
from avsr.data.types import Segment, UttRecord
from avsr.utils.io import atomic_path, write_json_atomic, write_text_atomic
from avsr.video.io import write_av_mp4

PathLike = Union[str, Path]
log = logging.getLogger(__name__)

# Bump when the generator changes what it writes: older utterances are then regenerated.
GENERATOR_VERSION = 2
RENDER_MODULE = "avsr.corpora.synthetic.render"
_ROUND = 4  # decimals kept for times (0.1 ms), as in avsr.data.records


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from the parts' text (sha256): stable across runs, unlike hash()."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def utterance_id(speaker_id: str, words: Sequence[str]) -> str:
    """``s03_bbaf2n`` for GRID sentences (GRID's own naming); ``s03_x<hash>`` for any other text."""
    try:
        return f"{speaker_id}_{sentence_to_code(words)}"
    except ValueError:
        return f"{speaker_id}_x{hashlib.sha1(' '.join(words).encode('utf-8')).hexdigest()[:8]}"


def speaker_sentences(speaker_id: str, count: int, seed: int) -> list[list[str]]:
    """``count`` distinct GRID sentences for one speaker (sampled without replacement)."""
    rng = random.Random(stable_seed("sentences", seed, speaker_id))
    seen: set[str] = set()
    sentences = []
    while len(sentences) < count:
        words = sample_sentence(rng)
        code = sentence_to_code(words)
        if code not in seen:
            seen.add(code)
            sentences.append(words)
    return sentences


@dataclass(frozen=True)
class _SpeakerJob:
    speaker: SpeakerSpec
    sentences: tuple[tuple[str, ...], ...]
    seed: int
    out_dir: str
    config: CorpusConfig
    code_digest: str  # of the renderer's code: a changed renderer re-renders old utterances
    render_module: str = RENDER_MODULE
    audio_only: bool = False  # noise talkers: wav + timings, no video


_progress_queue = None  # set in each worker by _init_worker


def _init_worker(progress_queue) -> None:
    global _progress_queue
    _progress_queue = progress_queue


def _tick() -> None:
    if _progress_queue is not None:
        _progress_queue.put(1)


def _segments_to_lists(segments: list[Segment], shift: float) -> list[list]:
    return [[s.symbol, round(s.start + shift, _ROUND), round(s.end + shift, _ROUND)] for s in segments]


def _params_digest(job: _SpeakerJob, words: tuple[str, ...]) -> str:
    blob = json.dumps(
        [GENERATOR_VERSION, job.code_digest, job.speaker.to_dict(), list(words), job.seed, job.config.to_dict()],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def renderer_digest(render_module: str = RENDER_MODULE) -> str:
    """sha256 of the renderer module's source and of the avsr modules it uses directly."""
    module = importlib.import_module(render_module)
    names = {module.__name__}
    for value in vars(module).values():
        owner = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
        if isinstance(owner, str) and owner.startswith("avsr.") and owner != "avsr.data.types":
            names.add(owner)
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode() + b"\0" + Path(sys.modules[name].__file__).read_bytes())
    return digest.hexdigest()[:16]


def _load_complete(sidecar: Path, wav: Path, mp4: Path, digest: str):
    """The sidecar's content if this utterance is complete and made with the same parameters."""
    if not (sidecar.is_file() and wav.is_file() and mp4.is_file()):
        return None
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if meta.get("params") == digest else None


def _pad_and_quantise(audio: np.ndarray, rng: np.random.Generator, config: CorpusConfig) -> tuple[np.ndarray, int]:
    """Speech -> PCM16 clip with random leading/trailing silence, a whole number of frames long."""
    lead = int(round(rng.uniform(config.pad_min, config.pad_max) * SAMPLING_RATE))
    trail = int(round(rng.uniform(config.pad_min, config.pad_max) * SAMPLING_RATE))
    samples_per_frame = SAMPLING_RATE // config.fps
    total = math.ceil((lead + len(audio) + trail) / samples_per_frame) * samples_per_frame
    clip = np.zeros(total, dtype=np.float64)
    clip[lead : lead + len(audio)] = audio
    if config.noise_floor > 0:
        clip += rng.normal(0.0, config.noise_floor, total)
    peak = np.abs(clip).max()
    if peak > 0.99:  # never clip: scale the whole utterance down instead
        clip *= 0.99 / peak
    return np.round(clip * 32767).astype(np.int16), lead


def speaker_dynamics(speaker: SpeakerSpec, config: CorpusConfig) -> Optional[TalkerDynamics]:
    """The speaker's lip dynamics (None without ``config.lip_dynamics``); its own generator,
    so the face style drawn from the same seed is unchanged."""
    if not config.lip_dynamics:
        return None
    rng = np.random.default_rng([speaker.face_seed, 2])
    return sample_talker_dynamics(rng, config.lip_lead_min_ms / 1000.0, config.lip_lead_max_ms / 1000.0)


def _make_utterance(job: _SpeakerJob, words: tuple[str, ...], style, render_face_video,
                    dynamics: Optional[TalkerDynamics] = None) -> dict:
    """Synthesise (always: keeps espeak's history fixed) and, unless complete, render and write."""
    spk = job.speaker
    utt_id = utterance_id(spk.speaker_id, words)
    spk_dir = Path(job.out_dir) / spk.speaker_id
    wav, mp4, sidecar = spk_dir / f"{utt_id}.wav", spk_dir / f"{utt_id}.mp4", spk_dir / f"{utt_id}.json"
    speech = synthesize(list(words), spk.voice)
    digest = _params_digest(job, words)
    done = _load_complete(sidecar, wav, wav if job.audio_only else mp4, digest)
    if done is not None:
        return done

    utt_seed = stable_seed("utterance", job.seed, utt_id)
    rng = np.random.default_rng(utt_seed)
    pcm, lead = _pad_and_quantise(speech.audio, rng, job.config)
    shift = lead / SAMPLING_RATE
    duration = len(pcm) / SAMPLING_RATE
    meta = {
        "params": digest,
        "utt_id": utt_id,
        "text": " ".join(words),
        "duration": duration,
        "words": _segments_to_lists(speech.words, shift),
        "phones": _segments_to_lists(speech.phones, shift),
        "word_phones": speech.word_phones,
    }
    spk_dir.mkdir(parents=True, exist_ok=True)
    if job.audio_only:
        with atomic_path(wav) as tmp:
            sf.write(str(tmp), pcm, SAMPLING_RATE, subtype="PCM_16", format="WAV")
        write_json_atomic(sidecar, meta, indent=None)
        return json.loads(json.dumps(meta))

    phones = [Segment(s.symbol, s.start + shift, s.end + shift) for s in speech.phones]
    word_segs = [Segment(s.symbol, s.start + shift, s.end + shift) for s in speech.words]
    lead = dynamics.utterance_lead(np.random.default_rng([utt_seed, 2])) if dynamics is not None else 0.0
    frames, boxes = render_face_video(
        phones, word_segs, duration, style, seed=utt_seed % 2**31, fps=job.config.fps, size=job.config.video_size,
        **({"dynamics": dynamics, "lip_lead_s": lead} if dynamics is not None else {}),
    )
    expected = round(duration * job.config.fps)
    if frames.shape != (expected, job.config.video_size, job.config.video_size) or len(boxes) != expected:
        raise RuntimeError(
            f"{utt_id}: renderer returned frames {frames.shape} / {len(boxes)} boxes, "
            f"expected {expected} frames of {job.config.video_size}x{job.config.video_size}"
        )

    with atomic_path(wav) as tmp:
        sf.write(str(tmp), pcm, SAMPLING_RATE, subtype="PCM_16", format="WAV")
    # The mp4 carries exactly the wav's (quantised) samples.
    write_av_mp4(mp4, frames, job.config.fps, audio=pcm.astype(np.float32) / 32768.0, sampling_rate=SAMPLING_RATE)
    meta["face_boxes"] = [[int(v) for v in box] for box in boxes]
    if dynamics is not None:
        meta["lip_lead_s"] = round(lead, _ROUND)
    write_json_atomic(sidecar, meta, indent=None)
    # Return what a rerun would read back, so fresh and skipped utterances give equal records.
    return json.loads(json.dumps(meta))


def _run_speaker(job: _SpeakerJob) -> list[dict]:
    """Worker task: one speaker, all its sentences in order, in a fresh process."""
    render = importlib.import_module(job.render_module)
    if "cv2" in sys.modules:  # one process per core: keep OpenCV from spawning threads
        sys.modules["cv2"].setNumThreads(1)
    style = render.sample_face_style(np.random.default_rng(job.speaker.face_seed))
    dynamics = None if job.audio_only else speaker_dynamics(job.speaker, job.config)
    results = []
    for words in job.sentences:
        results.append(_make_utterance(job, words, style, render.render_face_video, dynamics))
        _tick()
    return results


def _run_jobs(jobs: list[_SpeakerJob], num_jobs: int) -> list[list[dict]]:
    """Run speaker jobs in fresh forkserver children (one task per child) with a progress bar.

    A worker that raises (or dies) stops the run: pending speakers are cancelled.
    """
    ctx = mp.get_context("forkserver")
    # Preloaded into the fork server, so each child starts fast; a missing module is skipped.
    ctx.set_forkserver_preload([__name__, RENDER_MODULE])
    progress = ctx.Queue()
    total = sum(len(j.sentences) for j in jobs)
    workers = max(1, min(num_jobs, len(jobs)))

    def drain(bar: tqdm, timeout: float) -> None:
        try:
            bar.update(progress.get(timeout=timeout))
            while True:
                bar.update(progress.get_nowait())
        except queue.Empty:
            pass

    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker, initargs=(progress,), max_tasks_per_child=1
    ) as pool, tqdm(total=total, desc="synthetic GRID", unit="utt") as bar:
        futures = [pool.submit(_run_speaker, job) for job in jobs]
        while not all(f.done() for f in futures):
            drain(bar, timeout=0.2)
            failed = [f for f in futures if f.done() and f.exception() is not None]
            if failed:
                for f in futures:
                    f.cancel()
                raise failed[0].exception()
        drain(bar, timeout=0.05)
        return [f.result() for f in futures]


CARRIER_SENTENCE = ("bin", "blue", "at", "f", "two", "now")


def carrier_pronunciations(words: Sequence[str], speakers: Sequence[SpeakerSpec], slot: int = 1) -> set[str]:
    """Lexicon lines (``word p1 p2 ...``) for ``words`` as each speaker's voice says them inside a
    GRID carrier sentence (in-sentence pronunciations differ from isolated words)."""
    entries = set()
    for word in words:
        sentence = [*CARRIER_SENTENCE[:slot], word, *CARRIER_SENTENCE[slot + 1 :]]
        for spk in speakers:
            entries.add(" ".join([word, *synthesize(sentence, spk.voice).word_phones[slot]]))
    return entries


def _lexicon_lines(metas: list[dict], speakers: list[SpeakerSpec]) -> list[str]:
    """Pronunciations as the training speakers realised them; GRID words that no training
    sentence happened to contain are spoken by the same voices in a carrier sentence, so the
    lexicon always covers the whole grammar (a small corpus samples only part of it)."""
    entries = set()
    for meta in metas:
        for word, phones in zip(meta["text"].split(), meta["word_phones"]):
            entries.add(" ".join([word, *phones]))
    covered = {line.split()[0] for line in entries}
    for slot, words in enumerate(GRID_SLOTS.values()):
        entries |= carrier_pronunciations([w for w in words if w not in covered], speakers, slot)
    return sorted(entries)


def _record(meta: dict, speaker: SpeakerSpec, out_dir: Path) -> UttRecord:
    spk_dir = out_dir.resolve() / speaker.speaker_id  # absolute, as the GRID preparation writes them
    has_video = "face_boxes" in meta  # noise talkers are audio only
    return UttRecord(
        utt_id=meta["utt_id"],
        speaker=speaker.speaker_id,
        audio_path=str(spk_dir / f"{meta['utt_id']}.wav"),
        video_path=str(spk_dir / f"{meta['utt_id']}.mp4") if has_video else None,
        text=meta["text"],
        words=[Segment(s, a, b) for s, a, b in meta["words"]],
        phones=[Segment(s, a, b) for s, a, b in meta["phones"]],
        gender=speaker.gender,
        face_boxes=[tuple(b) for b in meta["face_boxes"]] if has_video else None,
    )


def corpus_speakers(config: CorpusConfig, seed: int) -> dict[str, list[SpeakerSpec]]:
    """Speakers per split (train, dev, test[, test_unseenaccent]) and ``"noise"`` (the noise
    talkers), by the config's voice protocol (:mod:`avsr.corpora.synthetic.speakers`)."""
    make = make_corpus_speakers if config.unseen_voices else make_shared_corpus_speakers
    return make(config.speakers_per_split(), seed, noise_talkers=config.noise_talkers)


def _stats(metas: list[list[dict]]) -> dict:
    return {"speakers": len(metas), "utterances": sum(len(m) for m in metas),
            "hours": round(sum(u["duration"] for m in metas for u in m) / 3600.0, 4)}


def generate_corpus(
    out_dir: PathLike,
    preset_config: CorpusConfig,
    seed: int,
    num_jobs: int,
    index_dir: PathLike,
) -> dict[str, list[UttRecord]]:
    """Generate (or complete) the synthetic GRID corpus; returns the records per split.

    Writes media under ``out_dir`` and the index (train/dev/test.jsonl, test_unseenaccent.jsonl
    with ``unseen_accent_speakers``, noise_talkers.jsonl, lexicon_espeak.txt, speakers.json,
    lip_leads.json, corpus_stats.json) under ``index_dir``.
    Deterministic in ``seed`` and independent of ``num_jobs``; utterances already complete are
    not rendered again.
    """
    config = preset_config.validate()
    out_dir, index_dir = Path(out_dir), Path(index_dir)
    groups = corpus_speakers(config, seed)
    code_digest = renderer_digest()
    splits = list(config.splits)
    order = [*splits, "noise"]
    members = [(group, spk) for group in order for spk in groups[group]]
    jobs = [
        _SpeakerJob(
            speaker=spk,
            sentences=tuple(tuple(s) for s in speaker_sentences(
                spk.speaker_id, config.noise_talker_utts if group == "noise" else config.utts_per_speaker, seed)),
            seed=seed,
            out_dir=str(out_dir),
            config=config,
            code_digest=code_digest,
            audio_only=group == "noise",
        )
        for group, spk in members
    ]
    log.info("generating %d speakers x %d utterances (+ %d noise talkers x %d, audio only) into %s with %d jobs",
             sum(len(groups[s]) for s in splits), config.utts_per_speaker, len(groups["noise"]),
             config.noise_talker_utts, out_dir, num_jobs)
    results = _run_jobs(jobs, num_jobs)

    metas = {group: [] for group in order}
    records: dict[str, list[UttRecord]] = {group: [] for group in order}
    for (group, spk), utts in zip(members, results):
        metas[group].append(utts)
        records[group].extend(_record(m, spk, out_dir) for m in utts)
    for group in order:
        records[group].sort(key=lambda r: r.utt_id)
        write_records(index_dir / (f"{group}.jsonl" if group != "noise" else "noise_talkers.jsonl"), records[group])
    stale = index_dir / f"{UNSEEN_ACCENT_SPLIT}.jsonl"
    if UNSEEN_ACCENT_SPLIT not in splits and stale.is_file():  # stage 1 takes every test_*.jsonl
        log.info("unseen_accent_speakers is 0: removing %s of an earlier run", stale)
        stale.unlink()
    stats = {split: _stats(metas[split]) for split in splits}
    stats["total"] = _stats([m for split in splits for m in metas[split]])
    stats["noise_talkers"] = _stats(metas["noise"])
    train_metas = [u for m in metas["train"] for u in m]
    write_text_atomic(index_dir / "lexicon_espeak.txt", "".join(line + "\n" for line in _lexicon_lines(train_metas, groups["train"])))
    speakers_info = {}
    for group, spk in members:
        info = {"split": group, **spk.to_dict()}
        dyn = speaker_dynamics(spk, config) if group != "noise" else None
        if dyn is not None:
            info["lip_dynamics"] = {k: round(v, 4) for k, v in dyn.__dict__.items()}
        speakers_info[spk.speaker_id] = info
    write_json_atomic(index_dir / "speakers.json", speakers_info)
    leads = {u["utt_id"]: u["lip_lead_s"] for split in splits for m in metas[split] for u in m if "lip_lead_s" in u}
    write_json_atomic(index_dir / "lip_leads.json", dict(sorted(leads.items())))
    write_json_atomic(index_dir / "corpus_stats.json", {"seed": seed, "config": config.to_dict(), "splits": stats})
    return {split: records[split] for split in splits}
