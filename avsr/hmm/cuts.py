"""Reading stage-3 cut sets for the GMM-HMM and hybrid systems: features, transcripts and
the clean cut behind a noisy one (whose alignment gives the noisy copy's frame targets)."""
from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np
from lhotse import CutSet
from tqdm import tqdm

from avsr.hmm.features import GmmFeatureConfig, gmm_features
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]


def cuts_file(feature_dir: PathLike, corpus: str, cut_set: str) -> Path:
    return Path(feature_dir) / f"{corpus}_cuts_{cut_set}.jsonl.gz"


def load_cuts(feature_dir: PathLike, corpus: str, cut_set: str) -> CutSet:
    path = cuts_file(feature_dir, corpus, cut_set)
    if not path.is_file():
        raise AvsrInputError(path, "cut set does not exist: run stage 3 (features) first")
    return CutSet.from_file(path)


def clean_id(cut) -> str:
    """The clean cut a (possibly noisy) cut was mixed from."""
    return (cut.custom or {}).get("clean_cut_id", cut.id)


def transcripts(cuts: CutSet) -> dict[str, list[str]]:
    return {c.id: " ".join(s.text for s in c.supervisions).split() for c in cuts}


def speakers(cuts: CutSet) -> dict[str, str]:
    """cut id -> speaker of its first supervision (cuts without one are left out)."""
    return {c.id: c.supervisions[0].speaker for c in cuts if c.supervisions and c.supervisions[0].speaker}


def load_array(cut, name: str) -> np.ndarray:
    """A cut's feature array (``features`` or a custom one) with a one-line error when its
    storage is missing (lhotse stores paths as written by stage 3, often relative to the
    recipe directory)."""
    try:
        return cut.load_features() if name == "features" else cut.load_custom(name)
    except (OSError, KeyError) as err:
        raise AvsrInputError(getattr(err, "filename", None) or cut.id, f"cut {cut.id}: cannot read its {name!r} array ({type(err).__name__}: {err}); "
                             "run from the directory stage 3 ran in, or re-run stage 3") from None


def gmm_feature_dict(cuts: CutSet, cfg: GmmFeatureConfig, desc: str = "features") -> dict[str, np.ndarray]:
    out = {}
    for c in tqdm(cuts, desc=desc, leave=False):
        mfcc = load_array(c, "mfcc")
        if mfcc.ndim != 2 or mfcc.shape[1] < cfg.num_ceps:
            raise AvsrInputError(c.id, f"MFCC array has shape {mfcc.shape}, need [T, >={cfg.num_ceps}]")
        out[c.id] = gmm_features(mfcc, cfg)
    return out
