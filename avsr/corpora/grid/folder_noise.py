"""Noisy copies of a folder being decoded (egs/grid/local/decode_corpus.sh): white noise, or
babble made of the folder's *other* clips.

Stage 2 of a recipe makes babble from the training split; a folder decoded with models trained
elsewhere has no training split (one speaker, unknown speakers, a handful of clips), so its
babble comes from the folder itself, and no clip may hear itself in its own babble: the clips
are dealt round-robin (sorted ids) into ``num_folds`` folds, each fold's babble track is built
only from the clips of the other folds, and each clip is mixed with its own fold's track. Same
folder and seed, same noisy copies. The mixing is avsr.data.noise's (lhotse MixedCuts).
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Union

from lhotse import CutSet, RecordingSet

from avsr.data.noise import NoiseCondition, make_babble, make_white_noise, mix_condition
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
log = logging.getLogger(__name__)
SAMPLING_RATE = 16000


def fold_of(cut_ids: list[str], num_folds: int) -> dict[str, int]:
    """Round-robin fold of every cut id (sorted), so each fold has clips and the others too."""
    return {cut_id: k % num_folds for k, cut_id in enumerate(sorted(cut_ids))}


def folder_noisy_copy(cuts: CutSet, condition: NoiseCondition, noise_dir: PathLike, seed: int = 1234,
                      num_talkers: int = 6, duration_s: float = 30.0, num_folds: int = 4) -> CutSet:
    """``cuts`` mixed at ``condition`` (white or babble); cut ids get ``_<condition>`` appended.

    Babble needs at least two clips (a single clip has no other clip to make it from): one
    clip is a one-line error naming ``noise_dir``.
    """
    noise_dir = Path(noise_dir)
    if condition.noise_type == "white":
        white = make_white_noise(noise_dir / "white_00.wav", max(60.0, duration_s), SAMPLING_RATE, seed)
        return mix_condition(cuts, RecordingSet.from_recordings([white]), condition, seed)
    if condition.noise_type != "babble":
        raise ValueError(f"unknown noise type {condition.noise_type!r} (white | babble)")
    ids = sorted(cuts.ids)
    if len(ids) < 2:
        raise AvsrInputError(noise_dir, f"babble needs other clips to be made of, and the folder has {len(ids)}: "
                             "decode a folder of >= 2 clips, or use --noise white")
    folds = fold_of(ids, min(num_folds, len(ids)))
    mixed = []
    for fold in sorted(set(folds.values())):
        members = [c for c in cuts if folds[c.id] == fold]
        others = CutSet.from_cuts([c for c in cuts if folds[c.id] != fold])
        # the file name says which clips it holds: a re-run on another folder never reuses it
        digest = hashlib.sha256(f"{seed} {num_talkers} {duration_s} {' '.join(sorted(others.ids))}".encode()).hexdigest()[:10]
        track = make_babble(noise_dir / f"babble_fold{fold}_{digest}.wav", others, num_talkers, duration_s, SAMPLING_RATE,
                            seed=seed * 1000 + fold)
        mixed.extend(mix_condition(CutSet.from_cuts(members), RecordingSet.from_recordings([track]), condition, seed))
        log.info("babble fold %d: %d clips mixed with a %d-talker track of the other %d clips",
                 fold, len(members), num_talkers, len(ids) - len(members))
    return CutSet.from_cuts(sorted(mixed, key=lambda c: c.id))
