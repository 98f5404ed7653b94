"""H for our triphone system and the HCLG graph directory built with it.

Input labels play the role of Kaldi's transition ids: every (centre phone, HMM state, senone)
"transition state" ts gets an entry label 2*ts+1 (first frame in the state) and a self-loop
label 2*ts+2 (every further frame); ``column_map`` sends both to the senone's score column.
Labels carry the phone, as Kaldi's transition ids do, so two phones sharing senones never
make H∘C∘L∘G non-functional.

``TriphoneHBuilder`` implements avsr.wfst.hmm_h.HBuilder: ``build_ha`` gives H without
self-loops (one chain of entry arcs per context window of C∘LG), and ``add_self_loops`` adds
them after determinization/minimization the way Kaldi's AddSelfLoops (reorder=false) does:
states are first split so all arcs entering a state carry the same transition state, then
that state gets the transition state's self-loop.

Weights follow Kaldi exactly. Ha's arcs carry ``transition_scale`` times the log of the
transition probability *renormalised without the self-loop* (GetHTransducer), which is 0 for
our left-to-right topology (one forward transition per state). AddSelfLoops then puts
``self_loop_scale * -log p_loop`` on each self-loop and ``self_loop_scale * -log (1 - p_loop)``
on every arc (and final weight) leaving the state: the loop *and* the exit are scaled by
self_loop_scale. A state held d frames therefore costs
``self_loop_scale * (-log(1 - p) - (d - 1) log p)`` on any path (tests/test_hclg_weights.py).
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Optional, Sequence, Union

import kaldi_hmm_gmm  # noqa: F401  (import order: before kaldilm, deps.md)
import kaldifst
import numpy as np

from avsr.hmm.tri import TriphoneModel
from avsr.lang.lm import compile_g
from avsr.lang.symbols import read_symbol_table
from avsr.utils.io import atomic_dir, write_json_atomic, write_text_atomic
from avsr.wfst.compose import build_hclg, compose_lg
from avsr.wfst.fstutil import file_sha256, fst_size, read_fst, write_fst_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


class TriphoneHBuilder:
    context_width = 3
    central_position = 1

    def __init__(self, model: TriphoneModel, transition_scale: float = 1.0, self_loop_scale: float = 0.1) -> None:
        self.model = model
        self.transition_scale = transition_scale
        self.self_loop_scale = self_loop_scale
        self._ts: dict[tuple[int, int, int], int] = {}  # (phone, state, pdf) -> transition state
        # Every transition state the tree can produce, enumerated up front so the label
        # numbering (hence columns.int) does not depend on which contexts the graph uses.
        tree = model.tree
        for (phone, state), _root in sorted(tree.roots.items()):
            for leaf in sorted(_leaves(tree, tree.roots[(phone, state)])):
                self._ts[(phone, state, leaf)] = len(self._ts)
        self._ts_list = list(self._ts)

    def _loop_prob(self, phone: int, state: int) -> float:
        return float(self.model.self_loop.get((phone, state), 0.5))

    def build_ha(self, ilabel_info: Sequence[Sequence[int]]) -> tuple[kaldifst.StdVectorFst, list[int]]:
        tree = self.model.tree
        arcs: list[tuple[int, int, int, int, float]] = []
        next_state = 1
        disambig_labels: list[int] = []
        first_disambig = 2 * len(self._ts) + 1
        for olabel, window in enumerate(ilabel_info):
            if len(window) == 0:
                continue
            if len(window) == 1 and window[0] <= 0:  # disambiguation symbol (0 = Kaldi's #-1)
                label = first_disambig + len(disambig_labels)
                disambig_labels.append(label)
                arcs.append((0, 0, label, olabel, 0.0))
                continue
            left, centre, right = (int(x) for x in window)
            num_states = self.model.phone_states[centre]
            src = 0
            for s in range(num_states):
                pdf = tree.pdf(left, centre, right, s)
                ts = self._ts[(centre, s, pdf)]
                dst = 0 if s == num_states - 1 else next_state
                if dst:
                    next_state += 1
                # transition_scale * -log P(forward | not self-loop) = 0: a single forward transition
                # per state; the exit probability 1 - p_loop is added with the self-loop (add_self_loops)
                arcs.append((src, dst, 2 * ts + 1, olabel if s == 0 else 0, 0.0))
                src = dst
        fst = kaldifst.StdVectorFst()
        for _ in range(next_state):
            fst.add_state()
        fst.start = 0
        fst.set_final(0, 0.0)
        for src, dst, ilabel, olabel, cost in arcs:
            fst.add_arc(src, kaldifst.StdArc(ilabel, olabel, cost, dst))
        return fst, disambig_labels

    def add_self_loops(self, fst: kaldifst.StdVectorFst) -> kaldifst.StdVectorFst:
        num_states = fst.num_states
        arcs = [[(a.ilabel, a.olabel, float(a.weight.value), a.nextstate) for a in kaldifst.ArcIterator(fst, s)] for s in range(num_states)]
        finals = [float(fst.final(s).value) for s in range(num_states)]

        def cls(ilabel: int) -> int:
            return (ilabel - 1) // 2 if ilabel > 0 else -1  # -1: epsilon (no transition state)

        incoming: list[set] = [set() for _ in range(num_states)]
        incoming[fst.start].add(-1)
        for s in range(num_states):
            for ilabel, _, _, nxt in arcs[s]:
                incoming[nxt].add(cls(ilabel))
        copy_of: dict[tuple[int, int], int] = {}  # (state, class) -> new state id
        new_id = 0
        for s in range(num_states):
            for c in sorted(incoming[s]) or [-1]:
                copy_of[(s, c)] = new_id
                new_id += 1
        out = kaldifst.StdVectorFst()
        for _ in range(new_id):
            out.add_state()
        out.start = copy_of[(fst.start, -1)]
        for (s, c), q in copy_of.items():
            exit_cost = 0.0
            if c >= 0:
                phone, state, _pdf = self._ts_list[c]
                p_loop = self._loop_prob(phone, state)
                out.add_arc(q, kaldifst.StdArc(2 * c + 2, 0, -self.self_loop_scale * float(np.log(p_loop)), q))
                exit_cost = -self.self_loop_scale * float(np.log1p(-p_loop))  # Kaldi: the exit is scaled too
            if np.isfinite(finals[s]):
                out.set_final(q, finals[s] + exit_cost)
            for ilabel, olabel, w, nxt in arcs[s]:
                out.add_arc(q, kaldifst.StdArc(ilabel, olabel, w + exit_cost, copy_of[(nxt, cls(ilabel))]))
        kaldifst.connect(out)
        return out

    def column_map(self) -> np.ndarray:
        pdfs = np.array([pdf for (_p, _s, pdf) in self._ts_list], np.int64)
        return np.repeat(pdfs, 2)  # label 2ts+1 and 2ts+2 -> pdf of ts

    def num_columns(self) -> int:
        return int(self.model.num_pdfs)


def _leaves(tree, node_id: int) -> list[int]:
    out, stack = [], [node_id]
    while stack:
        n = tree.nodes[stack.pop()]
        if n.position < 0:
            out.append(n.leaf)
        else:
            stack.extend([n.yes, n.no])
    return out


def make_tri_graph(lang_dir: PathLike, lm_dir: PathLike, model_dir: PathLike, out_dir: PathLike, force: bool = False) -> dict:
    """HCLG for the triphone model in ``model_dir/final.json``, written in the same graph-dir
    format as avsr.wfst.make_graph (so avsr.decode reads it), skipped when input hashes match."""
    lang_dir, lm_dir, model_dir, out_dir = Path(lang_dir), Path(lm_dir), Path(model_dir), Path(out_dir)
    lm_source = lm_dir / "lm.arpa" if (lm_dir / "lm.arpa").is_file() else lm_dir / "G.fst"
    files = {"lang/L_disambig.fst": lang_dir / "L_disambig.fst", "lang/words.txt": lang_dir / "words.txt",
             "lang/phones.txt": lang_dir / "phones.txt", f"lm/{lm_source.name}": lm_source, "model/final.json": model_dir / "final.json",
             "model/final.npz": model_dir / "final.npz"}
    hashes = {k: file_sha256(p) for k, p in files.items()}
    if (out_dir / "build.json").is_file() and not force:
        old = json.loads((out_dir / "build.json").read_text())
        if old.get("input_hashes") == hashes:
            return {**old, "skipped": True}
    t0 = time.time()
    phones = read_symbol_table(lang_dir / "phones.txt")
    disambig = [i for s, i in phones if s.startswith("#")]
    lm_words = lm_dir / "words.txt"
    if lm_words.is_file() and (lm_dir / "G.fst").is_file() and file_sha256(lm_words) == hashes["lang/words.txt"]:
        G = read_fst(lm_dir / "G.fst")
    else:
        G = compile_g(lm_dir, lang_dir / "words.txt")
    LG = compose_lg(read_fst(lang_dir / "L_disambig.fst"), G)
    builder = TriphoneHBuilder(TriphoneModel.load(model_dir / "final.json"))
    built = build_hclg(LG, disambig, builder)
    info = {"kind": "hclg", "lang": str(lang_dir), "lm": str(lm_dir), "model": str(model_dir), "h_model": "triphone tree (avsr.hmm)",
            "input_hashes": hashes, "num_columns": int(built.num_columns), "sizes": {"G": fst_size(G), **built.sizes},
            "seconds": {"total": round(time.time() - t0, 3)}}
    with atomic_dir(out_dir) as tmp:
        write_fst_atomic(built.fst, tmp / "HCLG.fst")
        shutil.copyfile(lang_dir / "words.txt", tmp / "words.txt")
        shutil.copyfile(lang_dir / "phones.txt", tmp / "phones.txt")
        write_text_atomic(tmp / "columns.int", "".join(f"{c}\n" for c in built.column_map))
        write_json_atomic(tmp / "build.json", info)
    log.info("built %s: HCLG %s in %.2fs", out_dir, info["sizes"]["graph"], time.time() - t0)
    return info


def make_model_graph(lang_dir: PathLike, lm_dir: PathLike, model_dir: PathLike, out_dir: PathLike, force: bool = False) -> dict:
    """HCLG for a GMM-HMM or hybrid model dir: triphone models through make_tri_graph,
    monophone (kaldi-hmm-gmm) ones through avsr.wfst.make_graph."""
    from avsr.hmm.model_io import model_kind

    if model_kind(model_dir) == "tri":
        return make_tri_graph(lang_dir, lm_dir, model_dir, out_dir, force)
    from avsr.wfst.make_graph import make_graph

    return make_graph("hclg", lang_dir, lm_dir, out_dir, model_dir=model_dir, force=force)
