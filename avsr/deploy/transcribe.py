"""Transcribe media files with a trained system: ``steps/transcribe.py`` / ``avsr-transcribe``.

Per file: probe the streams, run stage 3's preprocessing (:mod:`avsr.deploy.features`), cut a
long file into chunks at its pauses (:func:`avsr.deploy.media.plan_chunks`), decode each chunk
with the system and method (E2E: :class:`avsr.deploy.search.TorchSearch`; hybrid:
:mod:`avsr.deploy.hybrid`), and join the words with their times (CTM).

Awkward inputs, decided once per file (:func:`stream_plan`), never silently:

- no face in some frames: the mouth locator's track is smoothed and interpolated over them (as in
  stage 3); the share of frames with a face is reported;
- no face at all (or a wav): an AV model decodes with its video stream removed (the model's
  learned missing-stream embedding, modality dropout trained it) and says so; a video-only
  model is an error; a hybrid AV DNN has no missing-stream input, so its sibling audio DNN
  (``hybrid_audio``) is used when it exists;
- no audio track: the same with the audio stream removed (video-only path);
- words outside the vocabulary: impossible by construction for a lexicon-graph method (the
  output is a path through the graph: its words.txt; with the GRID grammar always a grammar
  sentence), and the transcript says so.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from avsr.deploy import ctm
from avsr.deploy.features import FeatureSettings, FileFeatures, file_features
from avsr.deploy.media import Chunk, MediaInfo, plan_chunks, probe_media
from avsr.deploy.systems import SystemChoice, choose, hybrid_choice, system_dir, system_kind
from avsr.e2e.decode import SearchOptions
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


@dataclass
class TranscribeOptions:
    method: Optional[str] = None
    graph: Optional[str] = None
    epoch: Optional[int] = None
    avg: int = 1
    max_chunk_seconds: float = 10.0
    min_pause: float = 0.4
    features: FeatureSettings = field(default_factory=FeatureSettings)
    search: SearchOptions = field(default_factory=SearchOptions)
    hybrid_beam: float = 13.0
    device: str = "cpu"
    progress: bool = True


@dataclass
class Transcript:
    path: Path
    words: list[ctm.TimedWord]
    system: str
    method: str
    modality: str  # what was decoded: AV, A, V, A (video removed) ...
    chunks: int
    duration: float
    seconds: float
    notes: list[str]
    search_failures: int = 0

    @property
    def text(self) -> str:
        return " ".join(w.word for w in self.words)


@dataclass(frozen=True)
class StreamPlan:
    drop: Optional[str]  # stream removed from an AV model
    modality: str
    notes: tuple[str, ...]


def stream_plan(fusion: str, feats: FileFeatures, info: MediaInfo) -> StreamPlan:
    """Which streams a model of ``fusion`` reads from this file (see module doc)."""
    has_audio = feats.fbank is not None
    has_face = feats.video is not None and feats.video.has_face
    why_no_video = ("no video stream" if not info.has_video else "no face found in any frame")
    notes = []
    if feats.video is not None and has_face and feats.video.face_fraction < 0.999:
        notes.append(f"face found in {100 * feats.video.face_fraction:.0f}% of the frames the locator looked at "
                     f"(boxes from {feats.video.sources}); the others are interpolated")
    if fusion == "audio":
        if not has_audio:
            raise AvsrInputError(info.path, "no audio track, and this system is audio-only")
        return StreamPlan(None, "A", tuple(notes))
    if fusion == "video":
        if not has_face:
            raise AvsrInputError(info.path, f"{why_no_video}, and this system is video-only")
        return StreamPlan(None, "V", tuple(notes))
    if not has_audio and not has_face:
        raise AvsrInputError(info.path, f"no audio track and {why_no_video}: nothing to decode")
    if not has_face:
        notes.append(f"warning: {why_no_video}: decoding the AV model with its video stream removed (audio only)")
        return StreamPlan("video", "A (AV model, video removed)", tuple(notes))
    if not has_audio:
        notes.append("warning: no audio track: decoding the AV model with its audio stream removed (video only)")
        return StreamPlan("audio", "V (AV model, audio removed)", tuple(notes))
    return StreamPlan(None, "AV", tuple(notes))


class E2ESystem:
    """A loaded E2E experiment: model, tokenizer, search, lexicon (for word times)."""

    frame_seconds = ctm.FRAME_SECONDS

    def __init__(self, choice: SystemChoice, opts: TranscribeOptions) -> None:
        from avsr.deploy.search import TorchSearch
        from avsr.e2e.decode import load_e2e_model

        self.choice, self.opts = choice, opts
        self.device = torch.device(opts.device)
        self.model, self.cfg, self.tokenizer, self.epoch = load_e2e_model(choice.directory, opts.epoch, opts.avg, self.device)
        self.fusion = self.cfg["frontend"]["fusion"]
        self.video_input = self.cfg["frontend"].get("video_input", "pixels")
        self.search = TorchSearch(self.model, self.tokenizer, choice.method, opts.search, choice.graph)
        self.prons: dict[str, list[tuple[str, ...]]] = {}
        if self.tokenizer.unit == "phone":
            from avsr.lang.lexicon import read_lexicon

            lex = read_lexicon(self.tokenizer.lexicon_txt)
            for e in lex.entries:
                self.prons.setdefault(e.word, []).append(tuple(e.phones))

    def needs(self) -> tuple[bool, bool]:
        return self.fusion != "video", self.fusion != "audio"

    def vocabulary_note(self) -> Optional[str]:
        if self.search.hlg is not None:
            words = self.search.hlg.graph.words
        elif self.search.lg_words is not None:
            words = self.search.lg_words
        else:
            return None
        n = sum(1 for sym, _ in words if not sym.startswith("<") and not sym.startswith("#") and sym != "!SIL")
        grammar = " (a sentence grammar: every output is one of its sentences)" if "grid" in self.choice.graph.name else ""
        return (f"closed vocabulary: the output is a path through {self.choice.graph}, so only its {n} words "
                f"can appear; words outside it cannot be recognised, by construction{grammar}")

    @torch.no_grad()
    def decode_chunk(self, part: dict, plan: StreamPlan, chunk: Chunk) -> tuple[list[tuple[str, int, int]], bool]:
        from avsr.train.data import Utterance, collate

        fb = part["fbank"]
        video = part["crops"] if self.video_input == "pixels" else part["roi_dct"]
        frontend = self.model.frontend
        if fb is None:  # the audio branch still runs (its output is replaced): give it the right length
            tv = len(video)
            fb = np.tile(frontend.audio_mean.cpu().numpy()[None], (4 * tv, 1)).astype(np.float32)
        if self.fusion != "audio" and video is None:  # the video branch likewise, on neutral frames
            tv = -(-len(fb) // 4)
            if self.video_input == "pixels":
                video = np.full((tv, self.opts.features.crop_size, self.opts.features.crop_size),
                                int(round(255 * float(frontend.video_mean.mean()))), np.uint8)
            else:
                video = np.tile(frontend.video_mean.cpu().numpy()[None], (tv, 1)).astype(np.float32)
        utt = Utterance("chunk", np.ascontiguousarray(fb, np.float32), None if self.fusion == "audio" else video, "",
                        chunk.duration)
        batch = collate([utt]).to(self.device)
        enc, lengths = self.model.encode(batch, drop=plan.drop)
        n = int(lengths[0])
        result = self.search(enc[0], n)
        grouped = ctm.group_words(result.tokens, result.spans, self.tokenizer, result.words, self.prons)
        return grouped, result.partial


class Transcriber:
    """``Transcriber(exp, system, opts).transcribe(path)`` → :class:`Transcript`."""

    def __init__(self, exp: PathLike, system: Optional[str], opts: TranscribeOptions = TranscribeOptions()) -> None:
        self.opts = opts
        self.directory = system_dir(exp, system)
        self.kind = system_kind(self.directory)
        self.notes: list[str] = []
        if self.kind == "e2e":
            import yaml

            cfg = yaml.safe_load((self.directory / "config.yaml").read_text())
            units = (cfg.get("tokens") or {}).get("unit", "bpe")
            self.choice = choose(self.directory, opts.method, opts.graph, cfg.get("model") == "transducer", units)
            self.system = E2ESystem(self.choice, opts)
            note = self.system.vocabulary_note()
        else:
            from avsr.deploy.hybrid import HybridSystem

            self.choice, scale = hybrid_choice(self.directory, opts.graph)
            self.system = HybridSystem(self.choice, scale, opts)
            note = self.system.vocabulary_note()
        self.notes.append(f"system {self.directory.name}: {self.choice.method}"
                          f"{f' through {self.choice.graph}' if self.choice.graph else ''} ({self.choice.reason})")
        if note:
            self.notes.append(note)

    def transcribe(self, path: PathLike) -> Transcript:
        from tqdm import tqdm

        t0 = time.perf_counter()
        info = probe_media(path)
        need_audio, need_video = self.system.needs()
        if self.kind == "hybrid":  # a hybrid AV system may switch to its audio sibling: read every stream
            need_audio = need_video = True
        bar = tqdm(desc=f"{info.path.name}: mouth ROI", unit="frame", disable=not self.opts.progress or not info.has_video
                   or not need_video, leave=False)
        feats = file_features(info, self.opts.features, need_audio, need_video, need_mfcc=self.kind == "hybrid",
                              progress=bar)
        bar.close()
        if self.kind == "hybrid":
            system, plan = self.system.for_streams(feats, info)
        else:
            system, plan = self.system, stream_plan(self.system.fusion, feats, info)
        chunks = plan_chunks(feats.duration, feats.samples, self.opts.max_chunk_seconds, self.opts.min_pause)
        words: list[ctm.TimedWord] = []
        failures = 0
        for c in tqdm(chunks, desc=f"{info.path.name}: decode", unit="chunk", disable=not self.opts.progress
                      or len(chunks) < 2, leave=False):
            part = feats.chunk(c, self.opts.features.num_dct)
            grouped, partial = system.decode_chunk(part, plan, c)
            failures += int(partial)
            words += ctm.timed_words(grouped, c.start, system.frame_seconds)
        notes = list(plan.notes)
        if len(chunks) > 1:
            notes.append(f"{feats.duration:.1f} s cut into {len(chunks)} chunks at pauses (max "
                         f"{self.opts.max_chunk_seconds:g} s each), decoded one by one")
        if failures:
            notes.append(f"warning: the graph search reached no final state in {failures} of {len(chunks)} chunks: "
                         "their words are the best partial path")
        return Transcript(info.path, words, system.choice.directory.name, system.choice.method, plan.modality, len(chunks),
                          round(feats.duration, 3), round(time.perf_counter() - t0, 3), notes, failures)
