"""Record how an output directory was produced, when it is produced.

``<out_dir>/command.txt``   the command line (``python steps/train_e2e.py --conf … --exp-dir …``)
``<out_dir>/provenance.json``  written by :func:`record_provenance` when a system is *trained*
    (not when a step finds it up to date): the code's git commit, whether the working tree had
    uncommitted changes (and a hash of them, so two dirty trees can be told apart), the config
    hash, the command, the date. A resumed training appends a session. The leaderboard shows
    these per row and flags rows trained at another code state than the page's.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from avsr.utils.io import write_json_atomic, write_text_atomic

PathLike = Union[str, Path]
COMMAND_FILE = "command.txt"
PROVENANCE_FILE = "provenance.json"
CODE_DIR = Path(__file__).resolve().parents[2]  # the checkout whose code runs (avsr/..)
# Changes that cannot change a number (the leaderboard page itself, notes, docs) do not make the
# code state "dirty": a re-run after stage 14 rewrote RESULTS.md still matches its training runs.
NON_CODE_PATHSPEC = (".", ":(exclude)*.md", ":(exclude)docs")


def command_line(argv: Optional[Sequence[str]] = None) -> str:
    """``python <script> <args>`` with shell quoting, so the line can be pasted back into a shell."""
    argv = list(sys.argv if argv is None else argv)
    return shlex.join(["python"] + argv)


def _is_rank0() -> bool:
    return os.environ.get("RANK", "0") == "0"


def record_command(out_dir: PathLike, argv: Optional[Sequence[str]] = None) -> Optional[Path]:
    """Write ``out_dir/command.txt`` atomically (creating ``out_dir``); returns its path.

    Under torchrun only rank 0 writes (every rank runs the same command)."""
    if not _is_rank0():
        return None
    path = Path(out_dir) / COMMAND_FILE
    write_text_atomic(path, command_line(argv) + "\n")
    return path


def _git(repo_dir: Path, *args: str) -> Optional[str]:
    try:
        out = subprocess.run(["git", "--no-optional-locks", "-C", str(repo_dir), *args], capture_output=True,
                             timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.decode("utf-8", "replace") if out.returncode == 0 else None


def code_state(repo_dir: PathLike = CODE_DIR) -> dict[str, Any]:
    """{"commit": short hash or "unknown", "dirty": bool, "diff_sha256": hash of the uncommitted
    changes to tracked files (None when clean), "state": "<commit>" or "<commit>-dirty-<hash8>"}.
    Read-only (``--no-optional-locks`` keeps git from rewriting the index)."""
    repo_dir = Path(repo_dir)
    inside = _git(repo_dir, "rev-parse", "--is-inside-work-tree")
    commit = _git(repo_dir, "rev-parse", "--short", "HEAD") if inside and inside.strip() == "true" else None
    if not commit:
        return {"commit": "unknown", "dirty": False, "diff_sha256": None, "state": "unknown"}
    commit = commit.strip()
    status = _git(repo_dir, "status", "--porcelain", "--untracked-files=no", "--", *NON_CODE_PATHSPEC)
    dirty = bool(status and status.strip())
    diff_hash = None
    if dirty:
        diff = _git(repo_dir, "diff", "HEAD", "--no-ext-diff", "--no-color", "--binary", "--", *NON_CODE_PATHSPEC) or ""
        diff_hash = hashlib.sha256(diff.encode("utf-8")).hexdigest()
    state = commit + (f"-dirty-{diff_hash[:8]}" if diff_hash else "")
    return {"commit": commit, "dirty": dirty, "diff_sha256": diff_hash, "state": state}


def config_sha256(config: Any) -> str:
    """sha256 of a resolved config (canonical JSON: sorted keys), or of a file's bytes."""
    if isinstance(config, (str, Path)) and Path(config).is_file():
        return hashlib.sha256(Path(config).read_bytes()).hexdigest()
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def record_provenance(out_dir: PathLike, config: Any = None, argv: Optional[Sequence[str]] = None,
                      note: str = "", resumed: bool = False, repo_dir: PathLike = CODE_DIR) -> Optional[Path]:
    """Write ``out_dir/provenance.json`` (and command.txt) for a system trained *now*.

    ``config``: the resolved config (dict) or config file the system was trained with;
    ``resumed``: this session continued an earlier one (its record is kept under "previous")."""
    if not _is_rank0():
        return None
    out_dir = Path(out_dir)
    path = out_dir / PROVENANCE_FILE
    session = {**code_state(repo_dir), "command": command_line(argv), "date": utc_now(),
               "config_sha256": config_sha256(config) if config is not None else None}
    if note:
        session["note"] = note
    previous: list = []
    if resumed and path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            previous = old.get("previous", []) + [{k: v for k, v in old.items() if k != "previous"}]
        except (OSError, json.JSONDecodeError):
            previous = []
    record = {**session, "previous": previous}
    write_json_atomic(path, record)
    record_command(out_dir, argv)
    return path


def read_provenance(system_dir: PathLike) -> Optional[dict]:
    path = Path(system_dir) / PROVENANCE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
