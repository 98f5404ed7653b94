"""One exception type for bad input, so CLIs can print one line and exit non-zero."""
from __future__ import annotations

from pathlib import Path
from typing import Union


class AvsrInputError(Exception):
    """Bad input data: the message names the file and what is wrong with it.

    Printed by the CLIs as ``error: <path>: <problem>``.
    """

    def __init__(self, path: Union[str, Path, None], problem: str) -> None:
        self.path = str(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)
