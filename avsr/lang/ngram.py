"""Interpolated modified Kneser-Ney n-gram LMs (Chen & Goodman 1998), written as ARPA.

Our own trainer (as icefall's shared/make_kn_lm.py is theirs):
- the highest order uses raw counts; lower orders use continuation counts N1+(. h w)
  (how many distinct words precede h w), except n-grams starting with <s>, which have no
  left context and keep raw counts;
- three discounts per order, D1, D2, D3+, from that order's count-of-counts;
- p(w|h) = max(c(hw) - D(c), 0) / c(h.) + gamma(h) p(w|h'), gamma(h) = sum_k D_k N_k(h.) / c(h.),
  and unigrams interpolate with the uniform distribution over the vocabulary (</s> included,
  <s> never predicted);
- in the ARPA file, a seen n-gram's log10 prob is the interpolated value and the back-off
  weight of a history is gamma(h) (exact, because unseen words get gamma(h) p(w|h')).
"""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_text_atomic

PathLike = Union[str, Path]
BOS, EOS = "<s>", "</s>"
Ngram = tuple[str, ...]


def read_sentences(path: PathLike, vocabulary: Optional[set[str]] = None, vocab_source: str = "") -> list[list[str]]:
    """One sentence per line (whitespace-separated words). With ``vocabulary``, a word not in
    it raises AvsrInputError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "LM training text does not exist")
    sentences = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        for w in words:
            if w in (BOS, EOS):
                raise AvsrInputError(f"{path}:{lineno}", f"{w} must not appear in LM text (it is added)")
            if vocabulary is not None and w not in vocabulary:
                raise AvsrInputError(f"{path}:{lineno}", f"word {w!r} is not in {vocab_source or 'the vocabulary'} (OOV)")
        sentences.append(words)
    if not sentences:
        raise AvsrInputError(path, "LM training text has no sentences")
    return sentences


def _discounts(count_of_counts: dict[int, int]) -> tuple[float, float, float]:
    """Modified-KN discounts D1, D2, D3+; falls back to safe values when counts are too sparse."""
    n1, n2, n3, n4 = (count_of_counts.get(k, 0) for k in (1, 2, 3, 4))
    if n1 == 0 or n2 == 0:
        return 0.5, 1.0, 1.5  # tiny corpora: any valid discount keeps the model proper
    y = n1 / (n1 + 2 * n2)
    d1 = 1 - 2 * y * n2 / n1
    d2 = 2 - 3 * y * n3 / n2
    d3 = 3 - 4 * y * n4 / n3 if n3 else 1.5
    # Clamp into the valid range (0 < D_k <= k) so every probability stays positive.
    return (min(max(d1, 0.05), 1.0), min(max(d2, 0.05), 2.0), min(max(d3, 0.05), 3.0))


class KneserNeyLM:
    """Counts, discounts and probabilities of an interpolated modified-KN model."""

    def __init__(self, sentences: Iterable[Sequence[str]], order: int, extra_vocab: Iterable[str] = ()) -> None:
        if not 1 <= order <= 5:
            raise ValueError(f"order must be 1..5, got {order}")
        self.order = order
        raw: list[dict[Ngram, int]] = [defaultdict(int) for _ in range(order + 1)]
        vocab = set(extra_vocab)
        for sent in sentences:
            tokens = [BOS] + list(sent) + [EOS]
            vocab.update(sent)
            for end in range(1, len(tokens)):
                for n in range(1, order + 1):
                    if end - n + 1 < 0:
                        break
                    raw[n][tuple(tokens[end - n + 1 : end + 1])] += 1
        self.vocab = sorted(vocab | {EOS})
        # counts[n][ngram]: raw at the top order and for <s>-initial n-grams, else continuation.
        self.counts: list[dict[Ngram, int]] = [dict() for _ in range(order + 1)]
        self.counts[order] = dict(raw[order])
        for n in range(order - 1, 0, -1):
            cont: dict[Ngram, int] = defaultdict(int)
            for gram in raw[n + 1]:
                cont[gram[1:]] += 1
            for gram, c in raw[n].items():
                self.counts[n][gram] = c if gram[0] == BOS else cont.get(gram, c)
        self.discounts: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
        for n in range(1, order + 1):
            coc: dict[int, int] = defaultdict(int)
            for c in self.counts[n].values():
                coc[c] += 1
            self.discounts.append(_discounts(coc))
        # Per-history totals and N1/N2/N3+ of the following words.
        self.history_total: list[dict[Ngram, int]] = [dict() for _ in range(order + 1)]
        self.history_nk: list[dict[Ngram, list[int]]] = [dict() for _ in range(order + 1)]
        for n in range(1, order + 1):
            for gram, c in self.counts[n].items():
                h = gram[:-1]
                self.history_total[n][h] = self.history_total[n].get(h, 0) + c
                nk = self.history_nk[n].setdefault(h, [0, 0, 0])
                nk[min(c, 3) - 1] += 1
        self._prob_cache: dict[Ngram, float] = {}

    def _discount(self, n: int, c: int) -> float:
        return 0.0 if c == 0 else self.discounts[n][min(c, 3) - 1]

    def gamma(self, history: Ngram) -> float:
        """Interpolation (= back-off) weight of a history seen at order len(history)+1."""
        n = len(history) + 1
        total = self.history_total[n].get(history)
        if not total:
            return 1.0
        d = self.discounts[n]
        nk = self.history_nk[n][history]
        return (d[0] * nk[0] + d[1] * nk[1] + d[2] * nk[2]) / total

    def prob(self, word: str, history: Ngram = ()) -> float:
        """Interpolated p(word | history), history truncated to order-1 words."""
        history = tuple(history)[-(self.order - 1) :] if self.order > 1 else ()
        key = history + (word,)
        if key in self._prob_cache:
            return self._prob_cache[key]
        n = len(history) + 1
        if n == 1:
            if word == BOS:
                return 0.0
            lower = 1.0 / len(self.vocab)
        else:
            lower = self.prob(word, history[1:])
        total = self.history_total[n].get(history)
        if not total:
            p = lower
        else:
            c = self.counts[n].get(key, 0)
            p = max(c - self._discount(n, c), 0.0) / total + self.gamma(history) * lower
        self._prob_cache[key] = p
        return p

    def to_arpa(self) -> str:
        """ARPA text: every seen n-gram (plus every vocabulary word as a unigram)."""
        sections: list[list[str]] = []
        unigrams = sorted(set(self.vocab) | {BOS})
        for n in range(1, self.order + 1):
            grams = [(w,) for w in unigrams] if n == 1 else sorted(self.counts[n])
            lines = []
            for gram in grams:
                p = self.prob(gram[-1], gram[:-1])
                logp = -99.0 if p <= 0.0 else math.log10(p)
                line = f"{logp:.7f}\t{' '.join(gram)}"
                if n < self.order and gram in self.history_total[n + 1]:
                    line += f"\t{math.log10(self.gamma(gram)):.7f}"
                lines.append(line)
            sections.append(lines)
        out = ["", "\\data\\"]
        out += [f"ngram {n}={len(lines)}" for n, lines in enumerate(sections, start=1)]
        for n, lines in enumerate(sections, start=1):
            out += ["", f"\\{n}-grams:"] + lines
        out += ["", "\\end\\", ""]
        return "\n".join(out)


def train_kn_arpa(
    text: PathLike,
    arpa_out: PathLike,
    order: int,
    vocabulary: Optional[set[str]] = None,
    vocab_source: str = "",
    extra_vocab: Iterable[str] = (),
) -> KneserNeyLM:
    """Train on ``text`` (one sentence per line) and write ``arpa_out`` atomically."""
    sentences = read_sentences(text, vocabulary, vocab_source)
    lm = KneserNeyLM(sentences, order, extra_vocab)
    write_text_atomic(arpa_out, lm.to_arpa())
    return lm
