"""A toy audio-visual corpus drawn from a known HMM, for tests and quick checks of the
GMM-HMM / hybrid pipeline without TTS or video rendering.

GRID sentences are expanded with a lexicon into phones (silence at both ends); each phone
has 3 states (silence 5), each state lasts a random number of frames. Audio features are a
per-(phone, state) mean plus a small shift that depends on the neighbouring phones (so a
triphone tree has something to find) plus Gaussian noise; video features are a per-phone
"viseme" mean (phones of one viseme class share it) plus noise, at 25 fps. The true frame
alignment is returned, so tests can check what the trainers recover.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from avsr.corpora.grid.grammar import sample_sentence
from avsr.corpora.grid.espeak_lexicon import grid_espeak_lexicon
from avsr.lang.lexicon import Lexicon

PathLike = Union[str, Path]


@dataclass
class ToyCorpus:
    audio: dict[str, np.ndarray]  # [T, audio_dim] at 100 fps
    video: dict[str, np.ndarray]  # [ceil(T/4), video_dim] at 25 fps
    texts: dict[str, list[str]]
    true_phones: dict[str, np.ndarray]  # [T] phone symbol index into `phones`
    phones: list[str]


def toy_lexicon() -> Lexicon:
    """The espeak GRID lexicon, first pronunciation only (one per word keeps tests exact)."""
    lex = grid_espeak_lexicon()
    seen, entries = set(), []
    for e in lex.entries:
        if e.word not in seen:
            seen.add(e.word)
            entries.append(e)
    return Lexicon(entries)


def make_toy_corpus(
    num_utts: int,
    seed: int = 0,
    audio_dim: int = 24,
    video_dim: int = 16,
    audio_noise: float = 1.0,
    video_noise: float = 1.0,
    context_shift: float = 0.6,
    prefix: str = "u",
    model_seed: int = 1234,
    edge_silence: tuple[int, int] = (0, 0),
    energy_contrast: float = 0.0,
) -> ToyCorpus:
    """``num_utts`` utterances; ``model_seed`` fixes the generating HMM (share it between
    train and test sets), ``seed`` the sentences, durations and noise. ``edge_silence``
    (min, max frames) lengthens the leading/trailing silences like the corpus' pads, and
    ``energy_contrast`` raises feature 0 in speech and lowers it in silence (a c0)."""
    lex = toy_lexicon()
    phones = ["SIL"] + lex.phones
    pidx = {p: i for i, p in enumerate(phones)}
    mrng = np.random.default_rng(model_seed)
    state_means = mrng.normal(0, 1.5, size=(len(phones), 5, audio_dim))
    left_shift = mrng.normal(0, context_shift, size=(len(phones), audio_dim))
    right_shift = mrng.normal(0, context_shift, size=(len(phones), audio_dim))
    num_visemes = 8
    viseme_of = mrng.integers(0, num_visemes, size=len(phones))
    viseme_of[0] = 0
    viseme_means = mrng.normal(0, 1.5, size=(num_visemes, video_dim))
    rng = np.random.default_rng(seed)
    srng = random.Random(seed)
    prons = {e.word: e.phones for e in lex.entries}
    out = ToyCorpus({}, {}, {}, {}, phones)
    for n in range(num_utts):
        words = sample_sentence(srng)
        seq = ["SIL"] + [p for w in words for p in prons[w]] + ["SIL"]
        frames, labels = [], []
        for i, p in enumerate(seq):
            k = pidx[p]
            left = pidx[seq[i - 1]] if i > 0 else 0
            right = pidx[seq[i + 1]] if i + 1 < len(seq) else 0
            num_states = 5 if p == "SIL" else 3
            for s in range(num_states):
                dur = int(rng.integers(2, 6)) if p != "SIL" else int(rng.integers(2, 5))
                if p == "SIL" and (i == 0 or i == len(seq) - 1) and edge_silence[1] > 0:
                    dur = int(rng.integers(edge_silence[0], edge_silence[1] + 1)) // num_states + 1
                mean = state_means[k, s] + (left_shift[left] if s == 0 else 0) + (right_shift[right] if s == num_states - 1 else 0)
                block = mean + audio_noise * rng.standard_normal((dur, audio_dim))
                block[:, 0] += -energy_contrast if p == "SIL" else energy_contrast
                frames.append(block)
                labels += [k] * dur
        audio = np.concatenate(frames).astype(np.float32)
        lab = np.array(labels)
        vid_frames = (len(lab) + 3) // 4
        centre = lab[np.minimum(np.arange(vid_frames) * 4 + 2, len(lab) - 1)]
        video = viseme_means[viseme_of[centre]] + video_noise * rng.standard_normal((vid_frames, video_dim))
        utt = f"{prefix}{n:04d}"
        out.audio[utt] = audio
        out.video[utt] = video.astype(np.float32)
        out.texts[utt] = list(words)
        out.true_phones[utt] = lab
    return out


def write_toy_lang(out_dir: PathLike) -> Path:
    """A lang dir (steps/prepare_lang.py conventions) for the toy lexicon."""
    from avsr.lang.prepare import LangOptions, prepare_lang

    prepare_lang(toy_lexicon(), out_dir, LangOptions())
    return Path(out_dir)


def write_toy_cuts(
    corpus: ToyCorpus,
    feature_dir: PathLike,
    set_name: str,
    corpus_name: str = "toy",
    clean_ids: Optional[dict] = None,
) -> Path:
    """Write ``<feature_dir>/<corpus_name>_cuts_<set_name>.jsonl.gz`` in the stage-3 layout
    (features slot + custom ``mfcc`` and ``roi_dct`` arrays, supervision text), so the stage
    CLIs can be exercised on toy data. The audio array stands in for both fbank and MFCC.
    ``clean_ids`` marks cuts as noisy copies of clean ones (custom ``clean_cut_id``)."""
    from lhotse import CutSet, Features, LilcomChunkyWriter, MonoCut, NumpyHdf5Writer, SupervisionSegment

    feature_dir = Path(feature_dir)
    storage = feature_dir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    cuts = []
    with LilcomChunkyWriter(storage / f"{set_name}.audio.lca", mode="w") as aw, NumpyHdf5Writer(storage / f"{set_name}.video.h5", mode="w") as vw:
        for utt in sorted(corpus.audio):
            x, v = corpus.audio[utt], corpus.video[utt]
            duration = round(len(x) * 0.01, 4)
            feats = Features(type="toy", num_frames=len(x), num_features=x.shape[1], frame_shift=0.01, sampling_rate=16000,
                             start=0.0, duration=duration, storage_type=aw.name, storage_path=str(aw.storage_path),
                             storage_key=aw.write(utt, x), recording_id=utt, channels=0)
            sup = SupervisionSegment(id=utt, recording_id=utt, start=0.0, duration=duration, text=" ".join(corpus.texts[utt]))
            custom = {"mfcc": aw.store_array(f"{utt}-mfcc", x, frame_shift=0.01, temporal_dim=0, start=0.0),
                      "roi_dct": vw.store_array(f"{utt}/dct", v, frame_shift=0.04, temporal_dim=0, start=0.0)}
            if clean_ids and utt in clean_ids:
                custom["clean_cut_id"] = clean_ids[utt]
            cuts.append(MonoCut(id=utt, start=0.0, duration=duration, channel=0, supervisions=[sup], features=feats, custom=custom))
    path = feature_dir / f"{corpus_name}_cuts_{set_name}.jsonl.gz"
    CutSet.from_cuts(cuts).to_file(path)
    return path


def noisy_copy(corpus: ToyCorpus, suffix: str, noise: float, seed: int) -> tuple[ToyCorpus, dict]:
    """The same utterances with extra Gaussian noise on the audio only (video stays clean),
    renamed ``<utt><suffix>``; returns (corpus, {noisy id: clean id})."""
    rng = np.random.default_rng(seed)
    out = ToyCorpus({}, {}, {}, {}, corpus.phones)
    clean = {}
    for u in corpus.audio:
        n = u + suffix
        out.audio[n] = (corpus.audio[u] + noise * rng.standard_normal(corpus.audio[u].shape)).astype(np.float32)
        out.video[n], out.texts[n], out.true_phones[n] = corpus.video[u], corpus.texts[u], corpus.true_phones[u]
        clean[n] = u
    return out, clean
