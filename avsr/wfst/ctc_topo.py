"""H for CTC models: the standard CTC topology over tokens with blank.

Input labels are ``token_id + 1`` (so label 1 is the blank, token id 0, and
kaldi_hmm_gmm.DecodableCtc reads column ``token_id`` of a [T, V] log-prob matrix); output
labels are the token ids themselves (0 = nothing), which for phone tokens are the phone ids
of phones.txt, so H composes directly with LG.

States: 0 = "last frame was blank" (start), and one state per token t = "last frame was t".
A repeated token on consecutive frames is one token (self-loop, no output); a token after
blank or after a different token starts a new one (outputs it). Every state is final.
"""
from __future__ import annotations

from typing import Sequence

import kaldifst

from avsr.wfst.fstutil import compile_arcs


def ctc_topology(token_ids: Sequence[int], blank_id: int = 0) -> kaldifst.StdVectorFst:
    """Standard (fully connected) CTC topology; token_ids excludes the blank."""
    tokens = sorted(set(token_ids) - {blank_id})
    state_of = {t: k + 1 for k, t in enumerate(tokens)}
    states = [0] + [state_of[t] for t in tokens]
    arcs = []
    for src in states:
        arcs.append((src, 0, blank_id + 1, 0, 0.0))
        for t in tokens:
            dst = state_of[t]
            arcs.append((src, dst, t + 1, 0 if src == dst else t, 0.0))
    fst = compile_arcs(arcs, {s: 0.0 for s in states}, 0, len(states))
    kaldifst.arcsort(fst, sort_type="olabel")
    return fst
