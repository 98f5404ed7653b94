"""Kaldi HMM topology text (``topo``): left-to-right HMMs with self-loops, one entry for
non-silence phones and one (usually longer) for silence phones, as prepare_lang writes.
"""
from __future__ import annotations

from typing import Sequence


def _entry(phone_ids: Sequence[int], num_states: int) -> str:
    lines = ["<TopologyEntry>", "<ForPhones>", " ".join(str(p) for p in phone_ids), "</ForPhones>"]
    for s in range(num_states):
        # Self-loop 0.75 / forward 0.25: Kaldi's initial values, re-estimated in training.
        lines.append(f"<State> {s} <PdfClass> {s} <Transition> {s} 0.75 <Transition> {s + 1} 0.25 </State>")
    lines.append(f"<State> {num_states} </State>")
    lines.append("</TopologyEntry>")
    return "\n".join(lines)


def make_topology(
    nonsilence_ids: Sequence[int],
    silence_ids: Sequence[int],
    num_nonsil_states: int = 3,
    num_sil_states: int = 5,
) -> str:
    """Topology text readable by ``kaldi_hmm_gmm.HmmTopology().read(text)``."""
    if num_nonsil_states < 1 or num_sil_states < 1:
        raise ValueError("HMMs need at least one emitting state")
    parts = ["<Topology>"]
    if nonsilence_ids:
        parts.append(_entry(sorted(nonsilence_ids), num_nonsil_states))
    if silence_ids:
        parts.append(_entry(sorted(silence_ids), num_sil_states))
    parts.append("</Topology>")
    return "\n".join(parts) + "\n"
