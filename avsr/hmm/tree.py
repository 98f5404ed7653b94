"""Phonetic decision tree for context-dependent (triphone) states, grown as Kaldi's
build-tree does: single-Gaussian sufficient statistics per seen context (left, centre,
right, HMM state), one root per (centre phone, HMM state), questions about the left or right
phone from automatically clustered phone sets, greedy splitting of the leaf with the
largest likelihood gain until the leaf budget is spent or no split gains enough.

kaldi-hmm-gmm exposes no tree building or tree constructors (deps.md), hence this module.
Leaves are numbered 0..num_leaves-1: they are the senones (pdf ids) of the triphone system.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from avsr.hmm.alignment import FrameAlignment

LOG_2PI = float(np.log(2 * np.pi))
Context = tuple[int, int, int, int]  # (left phone, centre phone, right phone, HMM state); 0 = utterance edge


@dataclass
class GaussStats:
    """Per-context count, sum and sum of squares (float64)."""

    keys: list[Context]
    count: np.ndarray  # [K]
    sum: np.ndarray  # [K, D]
    sumsq: np.ndarray  # [K, D]


def frame_contexts(ali: FrameAlignment) -> np.ndarray:
    """int [T, 4] (left, centre, right, state) per frame from the phone segments."""
    segs = ali.phone_segments()
    out = np.zeros((len(ali), 4), np.int64)
    for i, (phone, s, e) in enumerate(segs):
        out[s:e, 0] = segs[i - 1][0] if i > 0 else 0
        out[s:e, 1] = phone
        out[s:e, 2] = segs[i + 1][0] if i + 1 < len(segs) else 0
    out[:, 3] = ali.state
    return out


def accumulate_tree_stats(feats: Mapping[str, np.ndarray], alignments: Mapping[str, FrameAlignment]) -> GaussStats:
    """Sufficient statistics of every seen (left, centre, right, state) context."""
    index: dict[Context, int] = {}
    rows, all_x = [], []
    for utt, ali in alignments.items():
        if utt not in feats:
            continue
        ctx = frame_contexts(ali)
        keys = [tuple(map(int, c)) for c in ctx]
        for k in keys:
            if k not in index:
                index[k] = len(index)
        rows.append(np.array([index[k] for k in keys]))
        all_x.append(np.asarray(feats[utt], np.float64))
    rows_a, x = np.concatenate(rows), np.concatenate(all_x)
    num = len(index)
    count = np.bincount(rows_a, minlength=num).astype(np.float64)
    s = np.zeros((num, x.shape[1]))
    ss = np.zeros((num, x.shape[1]))
    np.add.at(s, rows_a, x)
    np.add.at(ss, rows_a, x * x)
    return GaussStats(list(index), count, s, ss)


def gauss_loglike(count: np.ndarray, s: np.ndarray, ss: np.ndarray, var_floor: float = 1e-3) -> np.ndarray:
    """Total log-likelihood of the data under its own ML diagonal Gaussian (vectorised over
    leading axes): -n/2 (D log 2pi + sum log var + D)."""
    count = np.asarray(count, np.float64)
    n = np.maximum(count, 1e-10)[..., None]
    var = np.maximum(ss / n - (s / n) ** 2, var_floor)
    dim = s.shape[-1]
    return np.where(count > 0, -0.5 * count * (dim * LOG_2PI + np.log(var).sum(-1) + dim), 0.0)


def cluster_phone_questions(phone_stats: Mapping[int, tuple[float, np.ndarray, np.ndarray]]) -> list[frozenset[int]]:
    """Question sets: every node of an agglomerative clustering of the phones' Gaussians
    (merge the pair losing least likelihood), plus every single phone (Kaldi's
    cluster-phones gives the same kind of tree of sets, top-down)."""
    clusters = {frozenset([p]): (c, s.copy(), ss.copy()) for p, (c, s, ss) in phone_stats.items() if c > 0}
    questions = set(clusters)
    while len(clusters) > 1:
        items = list(clusters.items())
        best, best_pair = None, None
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                (a, (ca, sa, ssa)), (b, (cb, sb, ssb)) = items[i], items[j]
                loss = float(gauss_loglike(ca, sa, ssa) + gauss_loglike(cb, sb, ssb) - gauss_loglike(ca + cb, sa + sb, ssa + ssb))
                if best is None or loss < best:
                    best, best_pair = loss, (a, b)
        a, b = best_pair
        ca, sa, ssa = clusters.pop(a)
        cb, sb, ssb = clusters.pop(b)
        merged = a | b
        clusters[merged] = (ca + cb, sa + sb, ssa + ssb)
        questions.add(merged)
    return sorted(questions, key=lambda q: (len(q), sorted(q)))


@dataclass
class TreeNode:
    position: int = -1  # 0 = left context, 2 = right context; -1 = leaf
    question: int = -1
    yes: int = -1
    no: int = -1
    leaf: int = -1  # senone id when a leaf


@dataclass
class DecisionTree:
    """One binary tree per (centre phone, HMM state) root over left/right-context questions."""

    questions: list[frozenset[int]]
    roots: dict[tuple[int, int], int]  # (phone, state) -> node index
    nodes: list[TreeNode]
    num_leaves: int
    leaf_phone: list[int] = field(default_factory=list)  # centre phone of each senone
    leaf_state: list[int] = field(default_factory=list)

    def pdf(self, left: int, centre: int, right: int, state: int) -> int:
        node = self.nodes[self.roots[(centre, state)]]
        while node.leaf < 0:
            phone = left if node.position == 0 else right
            node = self.nodes[node.yes if phone in self.questions[node.question] else node.no]
        return node.leaf

    def to_dict(self) -> dict:
        return {
            "questions": [sorted(q) for q in self.questions],
            "roots": [[p, s, n] for (p, s), n in sorted(self.roots.items())],
            "nodes": [[n.position, n.question, n.yes, n.no, n.leaf] for n in self.nodes],
            "num_leaves": self.num_leaves,
            "leaf_phone": self.leaf_phone,
            "leaf_state": self.leaf_state,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "DecisionTree":
        return cls(
            [frozenset(q) for q in d["questions"]],
            {(p, s): n for p, s, n in d["roots"]},
            [TreeNode(*n) for n in d["nodes"]],
            d["num_leaves"],
            list(d["leaf_phone"]),
            list(d["leaf_state"]),
        )


@dataclass
class TreeConfig:
    num_leaves: int = 300
    min_leaf_count: float = 40.0  # frames on each side of a split
    min_gain: float = 10.0  # log-likelihood gain below which no split is made
    var_floor: float = 1e-3


def build_tree(
    stats: GaussStats,
    phone_states: Mapping[int, int],
    cfg: TreeConfig = TreeConfig(),
    questions: Optional[Sequence[frozenset[int]]] = None,
) -> DecisionTree:
    """Grow the tree. ``phone_states``: number of HMM states of every phone of the lang
    (roots exist even for phones unseen in training: one leaf each, so any graph can be built)."""
    keys = np.array(stats.keys, np.int64).reshape(-1, 4)
    if questions is None:
        per_phone: dict[int, list] = {}
        for k, (_, c, _, _) in enumerate(keys):
            acc = per_phone.setdefault(int(c), [0.0, 0.0, 0.0])
            acc[0] += stats.count[k]
            acc[1] = acc[1] + stats.sum[k]
            acc[2] = acc[2] + stats.sumsq[k]
        questions = cluster_phone_questions({p: (a[0], a[1], a[2]) for p, a in per_phone.items()})
        seen = {int(p) for p in keys[:, [0, 2]].ravel()} | set(int(p) for p in phone_states)
        # Every single phone (also those only ever seen as a context) and the utterance edge.
        questions = list(dict.fromkeys(list(questions) + [frozenset([p]) for p in sorted(seen)]))
    questions = list(questions)
    num_q = len(questions)
    max_phone = int(max(max(phone_states), keys[:, :3].max() if len(keys) else 0))
    member = np.zeros((num_q, max_phone + 1), bool)
    for qi, q in enumerate(questions):
        member[qi, [p for p in q if p <= max_phone]] = True

    def loglike(idx: np.ndarray) -> float:
        return float(gauss_loglike(stats.count[idx].sum(), stats.sum[idx].sum(0), stats.sumsq[idx].sum(0), cfg.var_floor))

    def best_split(idx: np.ndarray):
        """(gain, position, question, yes idx, no idx) of the best split of these contexts."""
        if len(idx) < 2:
            return None
        base = loglike(idx)
        cnt, s, ss = stats.count[idx], stats.sum[idx], stats.sumsq[idx]
        best = None
        for pos in (0, 2):
            m = member[:, keys[idx, pos]].astype(np.float64)  # [Q, K] yes-mask
            yc, ys, yss = m @ cnt, m @ s, m @ ss
            nc, ns, nss = cnt.sum() - yc, s.sum(0) - ys, ss.sum(0) - yss
            gain = gauss_loglike(yc, ys, yss, cfg.var_floor) + gauss_loglike(nc, ns, nss, cfg.var_floor) - base
            gain[(yc < cfg.min_leaf_count) | (nc < cfg.min_leaf_count)] = -np.inf
            qi = int(np.argmax(gain))
            if np.isfinite(gain[qi]) and (best is None or gain[qi] > best[0]):
                yes_mask = m[qi] > 0
                best = (float(gain[qi]), pos, qi, idx[yes_mask], idx[~yes_mask])
        return best

    nodes: list[TreeNode] = []
    roots: dict[tuple[int, int], int] = {}
    members: dict[int, np.ndarray] = {}
    heap: list = []
    for phone in sorted(phone_states):
        for state in range(phone_states[phone]):
            idx = np.nonzero((keys[:, 1] == phone) & (keys[:, 3] == state))[0]
            roots[(phone, state)] = len(nodes)
            members[len(nodes)] = idx
            nodes.append(TreeNode())
            split = best_split(idx)
            if split is not None and split[0] >= cfg.min_gain:
                heapq.heappush(heap, (-split[0], len(nodes) - 1, split))
    num_leaves = len(nodes)
    while heap and num_leaves < cfg.num_leaves:
        _, node_id, (gain, pos, qi, yes_idx, no_idx) = heapq.heappop(heap)
        yes_id, no_id = len(nodes), len(nodes) + 1
        nodes.extend([TreeNode(), TreeNode()])
        nodes[node_id] = TreeNode(position=pos, question=qi, yes=yes_id, no=no_id)
        members[yes_id], members[no_id] = yes_idx, no_idx
        num_leaves += 1
        for child in (yes_id, no_id):
            split = best_split(members[child])
            if split is not None and split[0] >= cfg.min_gain:
                heapq.heappush(heap, (-split[0], child, split))
    # Number the leaves root by root, so senones of one phone are contiguous.
    leaf_phone, leaf_state = [], []
    next_leaf = 0
    for (phone, state), root in sorted(roots.items()):
        stack = [root]
        while stack:
            n = nodes[stack.pop()]
            if n.position < 0:
                n.leaf = next_leaf
                leaf_phone.append(phone)
                leaf_state.append(state)
                next_leaf += 1
            else:
                stack.extend([n.no, n.yes])
    return DecisionTree(questions, roots, nodes, next_leaf, leaf_phone, leaf_state)
