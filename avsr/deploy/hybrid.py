"""Transcription with a hybrid DNN system: the recipe's scoring path for one chunk.

MFCC (or fbank) and ROI DCT of the chunk → the system's front-end (stack + LDA + splice, video
upsampled to 100 fps) and DNN → log-posteriors − log-priors → the HCLG graph at the acoustic
scale the dev sweep chose (``decode.json``), beam widened on failure as stage 9 does. Word times
come from the best path: each word runs from where its output label sits to the next word's,
silence frames (the graph's columns are pdfs; ``pdf_phone.int`` of the alignment model names
each pdf's phone) trimmed.

A hybrid AV DNN cannot run with a stream missing (no missing-stream input), so a file without a
face (or without audio) is decoded by the sibling ``hybrid_audio`` (``hybrid_video``) system of
the same experiment directory when it exists, with a warning; otherwise it is an error.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from avsr.deploy import ctm
from avsr.deploy.systems import SystemChoice
from avsr.utils.errors import AvsrInputError

SILENCE_PHONES = ("SIL", "SPN", "sil", "spn", "<eps>")


class HybridSystem:
    frame_seconds = 0.01

    def __init__(self, choice: SystemChoice, acoustic_scale: float, opts) -> None:
        import torch

        from avsr.decode.decoder import DecodingGraph
        from avsr.hybrid.pipeline import LoadedModel

        self.choice, self.scale, self.opts = choice, acoustic_scale, opts
        self.model = LoadedModel(choice.directory, torch.device(opts.device))
        self.graph = DecodingGraph.load(choice.graph)
        self.audio_source = self.model.frontend.cfg.audio.source
        self.silence = self._silence_columns(choice.graph)

    def _silence_columns(self, graph_dir: Path) -> np.ndarray:
        """Bool per graph column (pdf): the pdf belongs to a silence phone."""
        pdf_phone = self.model.ali_dir / "pdf_phone.int"
        phones = Path(graph_dir) / "phones.txt"
        sil = np.zeros(self.graph.num_columns, bool)
        if pdf_phone.is_file() and phones.is_file():
            from avsr.lang.symbols import read_symbol_table

            table = read_symbol_table(phones)
            for line in pdf_phone.read_text().splitlines():
                pdf, phone = (int(x) for x in line.split()[:2])
                if pdf < len(sil):
                    sil[pdf] = table.symbol(phone) in SILENCE_PHONES
        return sil

    def needs(self) -> tuple[bool, bool]:
        return True, self.model.needs_video

    def vocabulary_note(self) -> Optional[str]:
        n = sum(1 for sym, _ in self.graph.words if not sym.startswith("<") and not sym.startswith("#") and sym != "!SIL")
        grammar = " (a sentence grammar: every output is one of its sentences)" if "grid" in Path(self.choice.graph).name else ""
        return (f"closed vocabulary: the output is a path through {self.choice.graph}, so only its {n} words can "
                f"appear; words outside it cannot be recognised, by construction{grammar}")

    def for_streams(self, feats, info):
        """(system to use, StreamPlan) for a file's streams; an AV DNN falls back to a sibling."""
        from avsr.deploy.transcribe import StreamPlan

        has_audio = feats.fbank is not None
        has_face = feats.video is not None and feats.video.has_face
        notes = []
        if feats.video is not None and has_face and feats.video.face_fraction < 0.999:
            notes.append(f"face found in {100 * feats.video.face_fraction:.0f}% of the frames the locator looked at; "
                         "the others are interpolated")
        if not has_audio:
            if not self.model.needs_video:
                raise AvsrInputError(info.path, "no audio track, and this system is audio-only")
            if self.choice.directory.name == "hybrid_video":
                return self, StreamPlan(None, "V", tuple(notes))
            return self._sibling("hybrid_video", info, "no audio track", notes, "V")
        if self.model.needs_video and not has_face:
            why = "no video stream" if not info.has_video else "no face found in any frame"
            if self.choice.directory.name == "hybrid_video":
                raise AvsrInputError(info.path, f"{why}, and this system is video-only")
            return self._sibling("hybrid_audio", info, why, notes, "A")
        return self, StreamPlan(None, "AV" if self.model.needs_video else "A", tuple(notes))

    def _sibling(self, name: str, info, why: str, notes: list, modality: str):
        from avsr.deploy.systems import hybrid_choice
        from avsr.deploy.transcribe import StreamPlan

        sibling = self.choice.directory.parent / name
        if not (sibling / "final.pt").is_file():
            raise AvsrInputError(info.path, f"{why}: the hybrid {self.choice.directory.name} DNN needs both streams "
                                 f"and there is no {sibling} to fall back to")
        choice, scale = hybrid_choice(sibling, None)
        notes.append(f"warning: {why}: the hybrid AV DNN needs both streams: decoding with {sibling.name} instead")
        return HybridSystem(choice, scale, self.opts), StreamPlan(None, modality, tuple(notes))

    def decode_chunk(self, part: dict, plan, chunk) -> tuple[list[tuple[str, int, int]], bool]:
        from avsr.deploy.search import best_path

        audio = part["mfcc"] if self.audio_source == "mfcc" else part["fbank"]
        if audio is None:  # a video-only DNN still takes its frame count from an audio stream
            audio = np.zeros((4 * len(part["roi_dct"]), 24), np.float32)
        video = {"chunk": part["roi_dct"]} if self.model.needs_video else None
        logpost = self.model.log_posteriors({"chunk": np.asarray(audio, np.float32)}, video)["chunk"]
        pseudo = logpost - self.model.log_priors
        path = best_path(self.graph, pseudo, self.opts.hybrid_beam, self.scale, widenings=(1.0, 2.0, 4.0))
        sil = self.silence[self.graph.column_map[np.asarray(path.labels) - 1]] if self.graph.column_map is not None \
            and path.labels else np.zeros(len(path.labels), bool)
        spans = ctm.path_word_spans(path.word_frames, len(path.labels), sil)
        return [(w, a, b) for w, (a, b) in zip(path.words, spans)], path.partial
