"""Word times for a decoded utterance, and CTM lines.

Every search gives a token sequence; its frames come from a forced alignment of that sequence
with the model's own scores (so every method gets times the same way):

- CTC: Viterbi over the CTC topology (blank-interleaved tokens) of the log-probs → each token's
  first and last frame;
- transducer: Viterbi over the standard RNN-T lattice (a blank moves to the next frame, a token
  stays on it) → the frame each token is emitted at (a point in time: a word ends where its last
  token is emitted, so transducer word durations are approximate);
- HLG / HCLG paths are alignments already (:func:`path_alignment`).

Tokens are grouped into words with the tokenizer: BPE pieces starting with "▁" begin a word;
phone tokens are matched against the word's pronunciations in the lexicon.

CTM (NIST): ``<file> 1 <start> <duration> <word>`` per word, seconds with 2 decimals.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

NEG = -1e30
FRAME_SECONDS = 0.04  # encoder frames (10 ms fbank x 4)


@dataclass(frozen=True)
class TimedWord:
    word: str
    start: float  # seconds from the file start
    end: float


def ctc_align(log_probs: np.ndarray, tokens: Sequence[int], blank: int = 0) -> list[tuple[int, int]]:
    """(first frame, last frame) of each token on the best CTC path that spells ``tokens``.
    Impossible alignments (more frames needed than there are) spread the tokens evenly."""
    lp = np.asarray(log_probs, np.float64)
    t_max, n = lp.shape[0], len(tokens)
    if n == 0:
        return []
    labels = [blank]
    for k in tokens:
        labels += [int(k), blank]
    s_max = len(labels)
    score = np.full(s_max, NEG)
    score[0] = lp[0, labels[0]]
    score[1] = lp[0, labels[1]]
    back = np.zeros((t_max, s_max), np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    lab = np.array(labels)
    skip_ok = np.zeros(s_max, bool)
    skip_ok[2:] = (lab[2:] != blank) & (lab[2:] != lab[:-2])
    for t in range(1, t_max):
        prev1 = np.concatenate([[NEG], score[:-1]])
        prev2 = np.where(skip_ok, np.concatenate([[NEG, NEG], score[:-2]]), NEG)
        stacked = np.stack([score, prev1, prev2])
        choice = stacked.argmax(0)
        score = stacked[choice, np.arange(s_max)] + lp[t, lab]
        back[t] = choice
    end = s_max - 1 if score[s_max - 1] >= score[s_max - 2] else s_max - 2
    if score[end] <= NEG / 2:
        return _even_spans(n, t_max)
    states = np.empty(t_max, np.int64)
    s = end
    for t in range(t_max - 1, -1, -1):
        states[t] = s
        s -= back[t, s]
    spans: list[list[int]] = [[-1, -1] for _ in range(n)]
    for t, s in enumerate(states):
        if s % 2 == 1:
            k = s // 2
            spans[k][0] = t if spans[k][0] < 0 else spans[k][0]
            spans[k][1] = t
    return [(a, b) for a, b in spans]


def transducer_align(joint_log_probs: Callable[[int], np.ndarray], num_frames: int, tokens: Sequence[int],
                     blank: int = 0) -> list[tuple[int, int]]:
    """Emission frame of each token on the best RNN-T lattice path. ``joint_log_probs(u)`` gives
    the log-probs [T, V] of every frame after u tokens (u = 0..U)."""
    n = len(tokens)
    if n == 0:
        return []
    rows = [np.asarray(joint_log_probs(u), np.float64) for u in range(n + 1)]  # [U+1] x [T, V]
    emit = np.stack([rows[u][:, tokens[u]] for u in range(n)], 1)  # [T, U]
    stay = np.stack([r[:, blank] for r in rows], 1)  # [T, U+1]
    alpha = np.full((num_frames + 1, n + 1), NEG)
    alpha[0, 0] = 0.0
    came_by_token = np.zeros((num_frames + 1, n + 1), bool)
    for t in range(num_frames + 1):
        for u in range(n + 1):
            if t == 0 and u == 0:
                continue
            via_blank = alpha[t - 1, u] + stay[t - 1, u] if t > 0 else NEG
            via_token = alpha[t, u - 1] + emit[t, u - 1] if (u > 0 and t < num_frames) else NEG
            came_by_token[t, u] = via_token > via_blank
            alpha[t, u] = max(via_blank, via_token)
    frames = [0] * n
    t, u = num_frames, n
    while u > 0 or t > 0:
        if came_by_token[t, u]:
            frames[u - 1] = t
            u -= 1
        else:
            t -= 1
    return [(f, f) for f in frames]


def _even_spans(n: int, t_max: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, t_max, n + 1).astype(int)
    return [(int(a), int(max(a, b - 1))) for a, b in zip(edges[:-1], edges[1:])]


def path_alignment(ilabels_per_frame: Sequence[int], blank_label: int) -> tuple[list[int], list[tuple[int, int]]]:
    """A CTC-graph path's per-frame labels (graph input label = token + 1; 0 = epsilon) → tokens
    and their spans (repeats merged, blank dropped)."""
    tokens, spans = [], []
    prev = None
    for t, label in enumerate(ilabels_per_frame):
        if label != prev and label not in (0, blank_label):
            tokens.append(int(label) - 1)
            spans.append([t, t])
        elif label == prev and label not in (0, blank_label) and spans:
            spans[-1][1] = t
        prev = label
    return tokens, [(a, b) for a, b in spans]


def group_words(tokens: Sequence[int], spans: Sequence[tuple[int, int]], tokenizer, words: Optional[Sequence[str]] = None,
                pronunciations: Optional[dict[str, list[tuple[str, ...]]]] = None) -> list[tuple[str, int, int]]:
    """(word, first frame, last frame) per word. ``words``: the search's word output (graph
    methods); without it the words are the tokenizer's decoding (BPE) or the tokens themselves
    (phone units without a lexicon graph: phones are the output)."""
    pieces = tokenizer.pieces()
    if tokenizer.unit == "bpe":
        groups: list[list[int]] = []
        for i, k in enumerate(tokens):
            if not groups or pieces[k].startswith("\u2581"):
                groups.append([])
            groups[-1].append(i)
        groups = [g for g in groups if "".join(pieces[tokens[i]] for i in g).strip("\u2581")]
        out = []
        for g in groups:
            text = "".join(pieces[tokens[i]] for i in g).replace("\u2581", "")
            out.append((text, spans[g[0]][0], spans[g[-1]][1]))
        return out
    if words is None:  # phone output
        return [(pieces[k], a, b) for k, (a, b) in zip(tokens, spans)]
    return _match_pronunciations([pieces[k] for k in tokens], spans, list(words), pronunciations or {})


def _match_pronunciations(phones: list[str], spans: Sequence[tuple[int, int]], words: list[str],
                          prons: dict[str, list[tuple[str, ...]]]) -> list[tuple[str, int, int]]:
    """Split the phone string into the words (depth-first over each word's pronunciations);
    when no split fits (a graph path that is not a lexicon path cannot happen, but be safe), the
    phones are shared out evenly."""
    def split(i: int, w: int) -> Optional[list[tuple[int, int]]]:
        if w == len(words):
            return [] if i == len(phones) else None
        for pron in sorted(set(prons.get(words[w], [])), key=len, reverse=True):
            if pron and tuple(phones[i:i + len(pron)]) == pron:
                rest = split(i + len(pron), w + 1)
                if rest is not None:
                    return [(i, i + len(pron) - 1)] + rest
        return None

    parts = split(0, 0) if phones else None
    if parts is None:
        if not phones:
            return [(w, 0, 0) for w in words]
        edges = np.linspace(0, len(phones), len(words) + 1).astype(int)
        parts = [(int(a), int(max(a, b - 1))) for a, b in zip(edges[:-1], edges[1:])]
    last = len(spans) - 1
    return [(w, spans[min(a, last)][0], spans[min(b, last)][1]) for w, (a, b) in zip(words, parts)]


def timed_words(grouped: Sequence[tuple[str, int, int]], offset: float, frame_seconds: float = FRAME_SECONDS) -> list[TimedWord]:
    return [TimedWord(w, round(offset + a * frame_seconds, 3), round(offset + (b + 1) * frame_seconds, 3))
            for w, a, b in grouped]


def ctm_lines(file_id: str, words: Sequence[TimedWord]) -> str:
    return "".join(f"{file_id} 1 {w.start:.2f} {w.end - w.start:.2f} {w.word}\n" for w in words)


def path_word_spans(word_frames: Sequence[int], num_frames: int, silence: np.ndarray) -> list[tuple[int, int]]:
    """Frames of each word on an HCLG path: from where its output label sits to just before the
    next word's, with silence frames (``silence[t]``) trimmed from both ends."""
    spans = []
    for k, a in enumerate(word_frames):
        limit = (word_frames[k + 1] if k + 1 < len(word_frames) else num_frames) - 1
        a = min(a, max(limit, a))
        while a < limit and silence[a]:
            a += 1
        speech = np.flatnonzero(~silence[a:limit + 1])
        b = a + int(speech[-1]) if len(speech) else a
        spans.append((a, b))
    return spans
