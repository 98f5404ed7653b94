"""WER / PER with kaldialign: totals, ins/del/sub, Kaldi-style summary lines and
per-utterance alignments."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence, Union

import kaldialign

from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
EPS = "*"


@dataclass
class UttAlignment:
    utt: str
    ref: list[str]
    hyp: list[str]
    pairs: list[tuple[str, str]]
    ins: int
    dels: int
    subs: int


@dataclass
class ErrorStats:
    ins: int = 0
    dels: int = 0
    subs: int = 0
    ref_len: int = 0
    utts: list[UttAlignment] = field(default_factory=list)
    missing_hyps: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.ins + self.dels + self.subs

    @property
    def rate(self) -> float:
        """Error rate in percent (0 when the reference is empty and nothing was inserted)."""
        return 100.0 * self.errors / self.ref_len if self.ref_len else (0.0 if not self.errors else float("inf"))

    def kaldi_line(self, metric: str = "WER") -> str:
        """``%WER 12.34 [ 123 / 1000, 10 ins, 20 del, 93 sub ]``"""
        return f"%{metric} {self.rate:.2f} [ {self.errors} / {self.ref_len}, {self.ins} ins, {self.dels} del, {self.subs} sub ]"


def align_utterance(utt: str, ref: Sequence[str], hyp: Sequence[str]) -> UttAlignment:
    ref, hyp = list(ref), list(hyp)
    dist = kaldialign.edit_distance(ref, hyp)
    pairs = kaldialign.align(ref, hyp, EPS) if (ref or hyp) else []
    return UttAlignment(utt, ref, hyp, [tuple(p) for p in pairs], dist["ins"], dist["del"], dist["sub"])


def compute_error_stats(refs: Mapping[str, Sequence[str]], hyps: Mapping[str, Sequence[str]]) -> ErrorStats:
    """Score every reference utterance; a missing hypothesis counts as empty (all deletions)."""
    stats = ErrorStats()
    for utt in sorted(refs):
        if utt not in hyps:
            stats.missing_hyps.append(utt)
        a = align_utterance(utt, refs[utt], hyps.get(utt, []))
        stats.utts.append(a)
        stats.ins += a.ins
        stats.dels += a.dels
        stats.subs += a.subs
        stats.ref_len += len(a.ref)
    return stats


def read_text(path: PathLike) -> dict[str, list[str]]:
    """Kaldi ``text``: ``utt-id word word ...`` per line (an id alone = empty transcript)."""
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "transcript file does not exist")
    out: dict[str, list[str]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if fields[0] in out:
            raise AvsrInputError(f"{path}:{lineno}", f"utterance {fields[0]!r} appears twice")
        out[fields[0]] = fields[1:]
    return out


def words_to_phones(text: Mapping[str, Sequence[str]], lexicon, source: str = "lexicon") -> dict[str, list[str]]:
    """Map word transcripts to phones with each word's first pronunciation (for PER)."""
    first = {}
    for e in lexicon.entries:
        first.setdefault(e.word, list(e.phones))
    out = {}
    for utt, words in text.items():
        phones: list[str] = []
        for w in words:
            if w not in first:
                raise AvsrInputError(source, f"utterance {utt}: word {w!r} has no pronunciation")
            phones += first[w]
        out[utt] = phones
    return out


def format_alignments(stats: ErrorStats) -> str:
    """Per-utterance alignments, Kaldi's per_utt style: ref / hyp / op rows (C, S, I, D)."""
    lines = []
    for a in stats.utts:
        ops = ["C" if r == h else "I" if r == EPS else "D" if h == EPS else "S" for r, h in a.pairs]
        lines.append(f"{a.utt} ref  {' '.join(r for r, _ in a.pairs)}")
        lines.append(f"{a.utt} hyp  {' '.join(h for _, h in a.pairs)}")
        lines.append(f"{a.utt} op   {' '.join(ops)}")
        lines.append(f"{a.utt} #csid {ops.count('C')} {a.subs} {a.ins} {a.dels}")
    return "\n".join(lines) + ("\n" if lines else "")
