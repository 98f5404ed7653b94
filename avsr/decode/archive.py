"""Score-matrix archives: one ``.npz`` file, one float32 [T, C] array per utterance id
(``numpy.savez``; keys are utterance ids). Simple, inspectable with numpy, no Kaldi I/O."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Union

import numpy as np

from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path

PathLike = Union[str, Path]


def write_score_archive(path: PathLike, matrices: Mapping[str, np.ndarray]) -> None:
    """Write ``{utt_id: [T, C] matrix}`` atomically (uncompressed .npz)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **{utt: np.asarray(m, dtype=np.float32) for utt, m in matrices.items()})


def read_score_archive(path: PathLike) -> dict[str, np.ndarray]:
    """Read an archive written by write_score_archive (utterance ids sorted)."""
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "score archive does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            out = {k: np.asarray(data[k], dtype=np.float32) for k in sorted(data.files)}
    except Exception as err:  # numpy raises several types for a bad zip/npy
        raise AvsrInputError(path, f"not a readable .npz score archive ({type(err).__name__}: {err})") from None
    for utt, m in out.items():
        if m.ndim != 2:
            raise AvsrInputError(path, f"utterance {utt!r}: expected a [T, C] matrix, got shape {m.shape}")
    return out
