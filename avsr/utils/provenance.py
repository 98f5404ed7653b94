"""Record how an output directory was produced: ``<out_dir>/command.txt`` holds the command
line (``python steps/train_e2e.py --conf … --exp-dir …``), which the leaderboard shows."""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Optional, Sequence, Union

from avsr.utils.io import write_text_atomic

PathLike = Union[str, Path]
COMMAND_FILE = "command.txt"


def command_line(argv: Optional[Sequence[str]] = None) -> str:
    """``python <script> <args>`` with shell quoting, so the line can be pasted back into a shell."""
    argv = list(sys.argv if argv is None else argv)
    return shlex.join(["python"] + argv)


def record_command(out_dir: PathLike, argv: Optional[Sequence[str]] = None) -> Optional[Path]:
    """Write ``out_dir/command.txt`` atomically (creating ``out_dir``); returns its path.

    Under torchrun only rank 0 writes (every rank runs the same command)."""
    if os.environ.get("RANK", "0") != "0":
        return None
    path = Path(out_dir) / COMMAND_FILE
    write_text_atomic(path, command_line(argv) + "\n")
    return path
