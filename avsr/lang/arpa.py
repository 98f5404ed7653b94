"""Strict ARPA reading: every problem becomes one line naming the file and line, before
kaldilm (whose C++ parser aborts or silently maps words) ever sees the file."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
_COUNT = re.compile(r"^ngram\s+(\d+)\s*=\s*(\d+)$")
_SECTION = re.compile(r"^\\(\d+)-grams:$")


@dataclass
class ArpaModel:
    """n-grams by order: ngram tuple -> (log10 prob, log10 back-off or None)."""

    order: int
    ngrams: dict[int, dict[tuple[str, ...], tuple[float, Optional[float]]]] = field(default_factory=dict)

    @property
    def vocabulary(self) -> set[str]:
        return {g[0] for g in self.ngrams.get(1, {})}


def read_arpa(path: PathLike, vocabulary: Optional[set[str]] = None, vocab_source: str = "") -> ArpaModel:
    """Parse and check an ARPA file; with ``vocabulary``, every word must be in it
    (``<s>``/``</s>`` are always allowed)."""
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "ARPA file does not exist")
    declared: dict[int, int] = {}
    model = ArpaModel(order=0)
    state = "preamble"  # preamble -> counts -> ngrams -> end
    current = 0
    allowed = None if vocabulary is None else set(vocabulary) | {"<s>", "</s>"}
    lineno = 0
    for lineno, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        line = raw.strip()
        where = f"{path}:{lineno}"
        if not line:
            continue
        if state == "preamble":
            if line == "\\data\\":
                state = "counts"
            continue  # text before \data\ is a comment in ARPA
        if state == "counts":
            m = _COUNT.match(line)
            if m:
                n = int(m.group(1))
                if n != len(declared) + 1:
                    raise AvsrInputError(where, f"ngram counts must be declared in order 1, 2, ...; got order {n}")
                declared[n] = int(m.group(2))
                continue
            state = "ngrams"
        if state == "end":
            raise AvsrInputError(where, "text after \\end\\")
        m = _SECTION.match(line)
        if m:
            n = int(m.group(1))
            if current and len(model.ngrams[current]) != declared[current]:
                raise AvsrInputError(
                    where, f"\\{current}-grams has {len(model.ngrams[current])} entries, header says {declared[current]}"
                )
            if n != current + 1 or n not in declared:
                raise AvsrInputError(where, f"unexpected section \\{n}-grams: (declared orders 1..{len(declared)})")
            current = n
            model.ngrams[n] = {}
            continue
        if line == "\\end\\":
            if current and len(model.ngrams[current]) != declared[current]:
                raise AvsrInputError(
                    where, f"\\{current}-grams has {len(model.ngrams[current])} entries, header says {declared[current]}"
                )
            if current != len(declared):
                raise AvsrInputError(where, f"\\end\\ before the \\{current + 1}-grams section")
            state = "end"
            continue
        if not declared:
            raise AvsrInputError(where, "no 'ngram N=count' lines after \\data\\")
        if current == 0:
            raise AvsrInputError(where, f"expected a \\1-grams: section, got {line[:40]!r}")
        fields = line.split()
        if len(fields) not in (current + 1, current + 2):
            raise AvsrInputError(where, f"a {current}-gram line needs logprob, {current} word(s) and an optional back-off: {line[:60]!r}")
        try:
            logp = float(fields[0])
            bow = float(fields[current + 1]) if len(fields) == current + 2 else None
        except ValueError:
            raise AvsrInputError(where, f"not a number in {line[:60]!r}") from None
        if logp > 0.0:
            raise AvsrInputError(where, f"log10 probability {logp} > 0")
        if bow is not None and current == len(declared):
            raise AvsrInputError(where, "highest-order n-gram with a back-off weight")
        gram = tuple(fields[1 : current + 1])
        if allowed is not None:
            for w in gram:
                if w not in allowed:
                    raise AvsrInputError(where, f"word {w!r} is not in {vocab_source or 'the vocabulary'}")
        model.ngrams[current][gram] = (logp, bow)
    if state != "end":
        raise AvsrInputError(f"{path}:{lineno}", "missing \\data\\ header" if state == "preamble" else "missing \\end\\")
    model.order = len(declared)
    # Every n-gram's history must itself be listed (else arpa2fst has nowhere to attach it).
    for n in range(2, model.order + 1):
        for gram in model.ngrams[n]:
            if gram[:-1] not in model.ngrams[n - 1]:
                raise AvsrInputError(path, f"{n}-gram {' '.join(gram)!r} has no {n - 1}-gram history {' '.join(gram[:-1])!r}")
    return model
