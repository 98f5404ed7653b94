"""Kaldi symbol tables (``symbol id`` per line): phones.txt, words.txt, tokens.txt."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Union

from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_text_atomic

PathLike = Union[str, Path]


class SymbolTable:
    """A bijection symbol <-> integer id, kept in id order when written."""

    def __init__(self) -> None:
        self._to_id: dict[str, int] = {}
        self._to_sym: dict[int, str] = {}

    @classmethod
    def from_symbols(cls, symbols: Iterable[str], first_id: int = 0) -> "SymbolTable":
        table = cls()
        for offset, sym in enumerate(symbols):
            table.add(sym, first_id + offset)
        return table

    def add(self, symbol: str, idx: int | None = None) -> int:
        """Add ``symbol`` (at ``idx`` or the next free id); returns its id."""
        if symbol in self._to_id:
            if idx is not None and self._to_id[symbol] != idx:
                raise ValueError(f"symbol {symbol!r} already has id {self._to_id[symbol]}, not {idx}")
            return self._to_id[symbol]
        if idx is None:
            idx = self.next_id()
        if idx in self._to_sym:
            raise ValueError(f"id {idx} already used by {self._to_sym[idx]!r}")
        self._to_id[symbol] = idx
        self._to_sym[idx] = symbol
        return idx

    def next_id(self) -> int:
        return max(self._to_sym, default=-1) + 1

    def __getitem__(self, symbol: str) -> int:
        return self._to_id[symbol]

    def get(self, symbol: str, default: int | None = None) -> int | None:
        return self._to_id.get(symbol, default)

    def symbol(self, idx: int) -> str:
        return self._to_sym[idx]

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._to_id

    def __len__(self) -> int:
        return len(self._to_id)

    def __iter__(self) -> Iterator[tuple[str, int]]:
        for idx in sorted(self._to_sym):
            yield self._to_sym[idx], idx

    def symbols(self) -> list[str]:
        return [s for s, _ in self]

    def max_id(self) -> int:
        return max(self._to_sym, default=-1)

    def to_text(self) -> str:
        return "".join(f"{s} {i}\n" for s, i in self)

    def write(self, path: PathLike) -> None:
        write_text_atomic(path, self.to_text())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SymbolTable) and self._to_id == other._to_id


def read_symbol_table(path: PathLike) -> SymbolTable:
    """Read ``symbol id`` lines; malformed lines and repeated symbols/ids raise AvsrInputError."""
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "symbol table does not exist")
    table = SymbolTable()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{lineno}"
        if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
            raise AvsrInputError(where, f"expected 'symbol integer-id', got {line.strip()!r}")
        try:
            table.add(fields[0], int(fields[1]))
        except ValueError as err:
            raise AvsrInputError(where, str(err)) from None
    return table


def write_int_list(path: PathLike, ids: Iterable[int]) -> None:
    write_text_atomic(path, "".join(f"{i}\n" for i in ids))
