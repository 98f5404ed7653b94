"""Small FST helpers that kaldifst 1.7.17 lacks (project, relabel-to-epsilon, weight pushing,
top-level sizes/IO), done through the OpenFst text format: every FST here is at most a few
hundred thousand arcs, so a Python pass over the arcs is fast enough and easy to check.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

import kaldifst

from avsr.utils.io import atomic_path, file_sha256  # noqa: F401 (file_sha256: re-exported, used by the graph steps)

PathLike = Union[str, Path]
INF = float("inf")


@dataclass
class TextFst:
    """An FST as plain Python lists (arcs: (src, dst, ilabel, olabel, cost); finals: state -> cost)."""

    start: int
    arcs: list[tuple[int, int, int, int, float]]
    finals: dict[int, float]
    num_states: int

    def to_kaldifst(self) -> kaldifst.StdVectorFst:
        return compile_arcs(self.arcs, self.finals, self.start, self.num_states)


def fst_to_text(fst: kaldifst.StdVectorFst) -> TextFst:
    """Read every arc and final weight of ``fst`` (state numbers kept)."""
    arcs: list[tuple[int, int, int, int, float]] = []
    finals: dict[int, float] = {}
    for state in kaldifst.StateIterator(fst):
        final = float(fst.final(state).value)
        if final != INF:
            finals[state] = final
        for arc in kaldifst.ArcIterator(fst, state):
            arcs.append((state, arc.nextstate, arc.ilabel, arc.olabel, float(arc.weight.value)))
    return TextFst(start=fst.start, arcs=arcs, finals=finals, num_states=fst.num_states)


def compile_arcs(
    arcs: Iterable[tuple[int, int, int, int, float]],
    finals: dict[int, float],
    start: int,
    num_states: Optional[int] = None,
) -> kaldifst.StdVectorFst:
    """Build a StdVectorFst from arcs and final costs, keeping the state numbering."""
    fst = kaldifst.StdVectorFst()
    arcs = list(arcs)
    if num_states is None:
        num_states = 1 + max([start, *finals.keys(), *(a[0] for a in arcs), *(a[1] for a in arcs)])
    for _ in range(num_states):
        fst.add_state()
    if num_states == 0:
        return fst
    fst.start = start
    for src, dst, ilabel, olabel, cost in arcs:
        fst.add_arc(src, kaldifst.StdArc(ilabel, olabel, cost, dst))
    for state, cost in finals.items():
        fst.set_final(state, cost)
    return fst


def map_arcs(
    fst: kaldifst.StdVectorFst,
    fn: Callable[[int, int, float], tuple[int, int, float]],
) -> kaldifst.StdVectorFst:
    """A copy of ``fst`` with every arc's (ilabel, olabel, cost) replaced by ``fn(...)``."""
    text = fst_to_text(fst)
    arcs = [(s, d, *fn(i, o, w)) for s, d, i, o, w in text.arcs]
    return compile_arcs(arcs, text.finals, text.start, text.num_states)


def project(fst: kaldifst.StdVectorFst, side: str = "input") -> kaldifst.StdVectorFst:
    """OpenFst Project: copy the input (or output) labels onto the other side (acceptor)."""
    if side not in ("input", "output"):
        raise ValueError(f"side must be 'input' or 'output', not {side!r}")
    if side == "input":
        return map_arcs(fst, lambda i, o, w: (i, i, w))
    return map_arcs(fst, lambda i, o, w: (o, o, w))


def relabel_to_epsilon(
    fst: kaldifst.StdVectorFst, labels: Iterable[int], side: str = "input"
) -> kaldifst.StdVectorFst:
    """Kaldi's fstrmsymbols: replace the given labels by <eps> (0) on one side."""
    drop = set(labels)
    if side == "input":
        return map_arcs(fst, lambda i, o, w: (0 if i in drop else i, o, w))
    return map_arcs(fst, lambda i, o, w: (i, 0 if o in drop else o, w))


def shortest_distance_to_final(text: TextFst, max_iters: int = 10000, delta: float = 1e-6) -> list[float]:
    """Tropical shortest distance from every state to a final state (Bellman-Ford, reverse).

    Raises RuntimeError if it does not converge (a negative-cost cycle)."""
    dist = [INF] * text.num_states
    for state, cost in text.finals.items():
        dist[state] = cost
    for _ in range(max_iters):
        changed = False
        for src, dst, _i, _o, cost in text.arcs:
            if dist[dst] == INF:
                continue
            candidate = cost + dist[dst]
            if candidate < dist[src] - delta:
                dist[src] = candidate
                changed = True
        if not changed:
            return dist
    raise RuntimeError("shortest distance did not converge (negative-cost cycle?)")


def push_weights(fst: kaldifst.StdVectorFst, remove_total_weight: bool = False) -> tuple[kaldifst.StdVectorFst, float]:
    """OpenFst Push(..., REWEIGHT_TO_INITIAL) in the tropical semiring.

    Moves costs as early as possible: after pushing, the cheapest way to a final state from
    any state costs 0 except from the start, where the total (best path cost) remains unless
    ``remove_total_weight``. Every path keeps its cost (up to that total). Returns
    (pushed fst, total). States that cannot reach a final state are removed first (connect).
    """
    fst = fst.copy()
    kaldifst.connect(fst)
    text = fst_to_text(fst)
    if text.num_states == 0:
        return fst, INF
    potential = shortest_distance_to_final(text)
    arcs = [(s, d, i, o, w + potential[d] - potential[s]) for s, d, i, o, w in text.arcs]
    finals = {s: w - potential[s] for s, w in text.finals.items()}
    total = potential[text.start]
    num_states = text.num_states
    start = text.start
    if not remove_total_weight and total != 0.0:
        # A fresh start state carries the total on an epsilon arc, so cycles through the old
        # start state are not charged twice.
        start = num_states
        num_states += 1
        arcs.append((start, text.start, 0, 0, total))
    return compile_arcs(arcs, finals, start, num_states), total


def fst_size(fst: kaldifst.StdVectorFst) -> dict[str, int]:
    """States and arcs of an FST (for build logs)."""
    num_arcs = sum(fst.num_arcs(s) for s in kaldifst.StateIterator(fst))
    return {"states": int(fst.num_states), "arcs": int(num_arcs)}


def write_fst_atomic(fst: kaldifst.StdVectorFst, path: PathLike) -> None:
    """Write a binary FST atomically (the temp file keeps the .fst suffix)."""
    with atomic_path(path) as tmp:
        if not fst.write(str(tmp)):
            raise RuntimeError(f"could not write FST to {tmp}")


def read_fst(path: PathLike) -> kaldifst.StdVectorFst:
    from avsr.utils.errors import AvsrInputError

    if not Path(path).is_file():
        raise AvsrInputError(path, "FST file does not exist")
    fst = kaldifst.StdVectorFst.read(str(path))
    if fst is None:
        raise AvsrInputError(path, "not a readable OpenFst binary file")
    return fst


def neg_log(prob: float) -> float:
    """Cost of a probability (tropical weight); 0 probability is an error, not +inf."""
    if prob <= 0.0:
        raise ValueError(f"probability must be > 0, got {prob}")
    return -math.log(prob)
