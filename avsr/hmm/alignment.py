"""Frame alignments on disk: one ``.npz`` per cut set, one int32 [T, 3] array per utterance
id with columns (pdf id, phone id, HMM state), so the DNN reads its targets (column 0) and the
decision tree reads phone contexts (columns 1-2) from the same file."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Union

import numpy as np

from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path

PathLike = Union[str, Path]


@dataclass
class FrameAlignment:
    pdf: np.ndarray  # int32 [T]
    phone: np.ndarray  # int32 [T] phone ids of the lang
    state: np.ndarray  # int32 [T] HMM state (pdf class) inside the phone

    def __post_init__(self) -> None:
        self.pdf, self.phone, self.state = (np.asarray(a, dtype=np.int32) for a in (self.pdf, self.phone, self.state))
        if not (len(self.pdf) == len(self.phone) == len(self.state)):
            raise ValueError("pdf, phone and state columns differ in length")

    def __len__(self) -> int:
        return len(self.pdf)

    def phone_segments(self) -> list[tuple[int, int, int]]:
        """(phone, first frame, end frame) per phone instance: a new instance starts where
        the phone changes or the HMM state goes back (the same phone twice in a row)."""
        out: list[tuple[int, int, int]] = []
        start = 0
        for t in range(1, len(self) + 1):
            if t == len(self) or self.phone[t] != self.phone[t - 1] or self.state[t] < self.state[t - 1]:
                out.append((int(self.phone[start]), start, t))
                start = t
        return out


def write_alignments(path: PathLike, alignments: Mapping[str, FrameAlignment]) -> None:
    """Write ``{utt: FrameAlignment}`` atomically as an .npz of int32 [T, 3]."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **{u: np.stack([a.pdf, a.phone, a.state], axis=1) for u, a in alignments.items()})


def read_alignments(path: PathLike) -> dict[str, FrameAlignment]:
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "alignment archive does not exist: run stage 6 (GMM training + alignment)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in sorted(data.files)}
    except Exception as err:
        raise AvsrInputError(path, f"not a readable alignment archive ({type(err).__name__}: {err})") from None
    out = {}
    for utt, a in arrays.items():
        if a.ndim != 2 or a.shape[1] != 3:
            raise AvsrInputError(path, f"utterance {utt!r}: expected int [T, 3] (pdf, phone, state), got {a.shape}")
        out[utt] = FrameAlignment(a[:, 0], a[:, 1], a[:, 2])
    return out
