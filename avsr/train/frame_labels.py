"""What the E2E models take from the GMM-HMM alignments the hybrid system already makes
(stage 6: ``exp/tri/ali_<set>.npz``, 100 fps, columns pdf / phone / state):

- per-frame labels for the auxiliary cross-entropy (:func:`attach_frame_labels`);
- the spoken pronunciation, for corpora whose supervisions carry words only
  (:func:`attach_aligned_phones`): forced alignment chose among the lexicon's variants (CMUdict
  has "a" as AH and EY; GRID's letter is EY), so the phone-unit targets follow what was said, not
  the lexicon's first entry.

The encoder runs at 25 fps (one frame per 40 ms = 4 alignment frames); encoder frame t gets the
phone of alignment frame 4t + 2, the middle of its window. Labels are the lang's phone ids
(silence included): a phone classifier, not the CD states, so the same labels serve every
model whatever tree the GMM has.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np

from avsr.hmm.alignment import read_alignments
from avsr.lang.symbols import read_symbol_table
from avsr.train.data import FeatureCache
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
SUBSAMPLING = 4  # 100 fps alignments → 25 fps encoder frames


def phone_classes(phones_txt: PathLike) -> int:
    """Number of classes = the largest phone id of the lang + 1 (disambiguation symbols excluded)."""
    table = read_symbol_table(phones_txt)
    ids = [i for sym, i in table if not sym.startswith("#") and sym != "<eps>"]
    if not ids:
        raise AvsrInputError(phones_txt, "no phones")
    return max(ids) + 1


def attach_aligned_phones(cache: FeatureCache, ali_path: PathLike, phones_txt: PathLike) -> int:
    """Give every utterance without a phone alignment of its own the phone sequence of its forced
    alignment (silence included; the tokenizer drops what is not a unit). Returns how many got one."""
    path = Path(ali_path)
    if not path.is_file():
        return 0
    table = read_symbol_table(phones_txt)
    alignments = read_alignments(path)
    filled = 0
    for utt_id, utt in cache.utts.items():
        ali = alignments.get(utt_id)
        if utt.phones or ali is None:
            continue
        utt.phones = [table.symbol(phone) for phone, _, _ in ali.phone_segments()]
        filled += 1
    return filled


def pdf_classes(ali_path: PathLike) -> int:
    """Number of CD-state (pdf) classes: the largest pdf id of the archive + 1."""
    alignments = read_alignments(ali_path)
    return 1 + max((int(a.pdf.max()) for a in alignments.values() if len(a)), default=0)


def attach_frame_labels(cache: FeatureCache, ali_path: PathLike, num_classes: int, targets: str = "phone") -> int:
    """Set ``frame_labels`` of every utterance of ``cache`` that the alignment archive covers;
    returns how many it covers (utterances without an alignment get none: their frames are not
    counted in the loss). ``targets``: ``phone`` (the lang's phone ids) or ``pdf`` (the tree's
    CD states, as the hybrid DNNs learn them)."""
    if targets not in ("phone", "pdf"):
        raise AvsrInputError(None, f"train.aux_targets must be 'phone' or 'pdf', got {targets!r}")
    alignments = read_alignments(ali_path)
    covered = 0
    for utt_id, utt in cache.utts.items():
        ali = alignments.get(utt_id)
        if ali is None:
            continue
        column = ali.pdf if targets == "pdf" else ali.phone
        if column.size and (column.max() >= num_classes or column.min() < 0):
            raise AvsrInputError(ali_path, f"utterance {utt_id}: {targets} id {int(column.max())} outside 0..{num_classes - 1}")
        n = -(-utt.fbank.shape[0] // SUBSAMPLING)  # ceil: the audio front-end's output length
        centre = np.minimum(np.arange(n) * SUBSAMPLING + SUBSAMPLING // 2, len(column) - 1)
        utt.frame_labels = column[centre].astype(np.int16)
        covered += 1
    return covered
