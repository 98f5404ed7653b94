"""'Oracle' score matrices built from a known token sequence: a stand-in for an acoustic
model's output in tests and in the lexicon/LM swap demonstration."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def oracle_ctc_matrix(
    token_ids: Sequence[int],
    num_columns: int,
    frames_per_token: int = 3,
    blank_id: int = 0,
    blank_between: int = 1,
    peak: float = -0.05,
    floor: float = -8.0,
    rng: Optional[np.random.Generator] = None,
) -> np.ndarray:
    """[T, V] log-probs: each token for ``frames_per_token`` frames, ``blank_between`` blank
    frames between (and around) tokens; the target column scores ``peak``, the others ``floor``
    (plus optional small noise from ``rng`` to break ties)."""
    rows: list[int] = [blank_id] * blank_between
    for t in token_ids:
        rows += [t] * frames_per_token + [blank_id] * blank_between
    matrix = np.full((len(rows), num_columns), floor, dtype=np.float32)
    matrix[np.arange(len(rows)), rows] = peak
    if rng is not None:
        matrix += rng.uniform(-0.01, 0.0, size=matrix.shape).astype(np.float32)
    return matrix


def oracle_frame_matrix(column_sequence: Sequence[int], num_columns: int, peak: float = 0.0, floor: float = -10.0) -> np.ndarray:
    """[T, C] with row t peaked at ``column_sequence[t]`` (a frame-level alignment, e.g. pdf ids)."""
    matrix = np.full((len(column_sequence), num_columns), floor, dtype=np.float32)
    matrix[np.arange(len(column_sequence)), list(column_sequence)] = peak
    return matrix


def oracle_pdf_sequence(transition_model, phone_ids: Sequence[int], frames_per_state: int = 2) -> list[int]:
    """A pdf-id sequence walking each phone's HMM left to right (monophone model), for hybrid
    oracles. Transition ids are numbered in HMM-state order, so a phone's pdfs in first-seen
    transition-id order are its states' pdfs in order."""
    tm = transition_model
    pdfs_of_phone: dict[int, list[int]] = {}
    for tid in range(1, tm.num_transition_ids + 1):
        seq = pdfs_of_phone.setdefault(int(tm.transition_id_to_phone(tid)), [])
        pdf = int(tm.transition_id_to_pdf(tid))
        if pdf not in seq:
            seq.append(pdf)
    out: list[int] = []
    for phone in phone_ids:
        for pdf in pdfs_of_phone[int(phone)]:
            out += [pdf] * frames_per_state
    return out
