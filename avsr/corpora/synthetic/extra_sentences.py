"""Extra test material for the embedded corpus: any sentences, spoken and filmed by the
corpus's own speakers through the same TTS + renderer pipeline.

Used to test what a trained model has never seen, e.g. new words added to a lexicon and LM
after training (the "swap without retraining" demonstration).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence, Union

from avsr.corpora.synthetic.corpus import _SpeakerJob, _record, _run_jobs, carrier_pronunciations, renderer_digest
from avsr.corpora.synthetic.config import CorpusConfig
from avsr.data.records import write_records
from avsr.corpora.synthetic.speakers import SpeakerSpec
from avsr.data.types import UttRecord
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_text_atomic

PathLike = Union[str, Path]


def load_speakers(speakers_json: PathLike, split: str) -> list[SpeakerSpec]:
    """The speakers of one split, from the corpus's ``speakers.json``."""
    path = Path(speakers_json)
    if not path.is_file():
        raise AvsrInputError(path, "speakers.json not found: run stage 0 first")
    fields = set(SpeakerSpec.__dataclass_fields__)
    specs = [
        SpeakerSpec(**{k: v for k, v in d.items() if k in fields})
        for d in json.loads(path.read_text(encoding="utf-8")).values()
        if d["split"] == split
    ]
    if not specs:
        raise AvsrInputError(path, f"no speakers in split {split!r}")
    return sorted(specs, key=lambda s: s.speaker_id)


def generate_sentences(
    out_dir: PathLike,
    index_file: PathLike,
    speakers: Sequence[SpeakerSpec],
    sentences: Sequence[Sequence[str]],
    seed: int,
    config: CorpusConfig = CorpusConfig(),
    num_jobs: int = 1,
) -> list[UttRecord]:
    """Every speaker says every sentence; media under ``out_dir``, records in ``index_file``."""
    for sentence in sentences:
        if not sentence or not all(w.isalpha() and w.islower() for w in sentence):
            raise AvsrInputError(index_file, f"sentences must be lowercase words: {' '.join(sentence)!r}")
    digest = renderer_digest()
    jobs = [
        _SpeakerJob(spk, tuple(tuple(s) for s in sentences), seed, str(out_dir), config.validate(), digest)
        for spk in speakers
    ]
    results = _run_jobs(jobs, num_jobs)
    records = sorted(
        (_record(meta, spk, Path(out_dir)) for spk, metas in zip(speakers, results) for meta in metas),
        key=lambda r: r.utt_id,
    )
    write_records(index_file, records)
    return records


def write_pronunciations(out_file: PathLike, words: Sequence[str], speakers: Sequence[SpeakerSpec], slot: int = 1) -> None:
    """A Kaldi-format lexicon of ``words`` as ``speakers`` (e.g. the training voices) say them."""
    lines = sorted(carrier_pronunciations(words, speakers, slot))
    write_text_atomic(out_file, "".join(line + "\n" for line in lines))
