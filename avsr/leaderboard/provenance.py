"""Per-system provenance for RESULTS.md: the code state, command and config hash recorded when the
system was trained (``provenance.json``, avsr.utils.provenance.record_provenance), and flags for
rows trained at another code state than the page's (or with nothing recorded)."""
from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import yaml

from avsr.utils.provenance import COMMAND_FILE, read_provenance

PathLike = Union[str, Path]


@dataclass(frozen=True)
class Provenance:
    system: str
    command: Optional[str]
    config_path: Optional[str]  # as shown (relative to the exp or recipe dir when possible)
    config_sha256: Optional[str]  # first 12 hex digits
    config_note: str = ""


def config_chain(path: Path) -> list[Path]:
    """The config file and the files it ``inherit:``s (avsr config convention: a file next to it)."""
    chain, seen = [], set()
    while path.is_file() and path.resolve() not in seen:
        seen.add(path.resolve())
        chain.append(path)
        try:
            parent = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("inherit")
        except (yaml.YAMLError, AttributeError):
            parent = None
        if not isinstance(parent, str):
            break
        path = path.parent / parent
    return chain


def sha256_prefix(path: Path, digits: int = 12) -> str:
    """sha256 over the config and every file it inherits from (so a change to either shows)."""
    h = hashlib.sha256()
    for p in config_chain(path):
        h.update(p.read_bytes())
    return h.hexdigest()[:digits]


def _conf_arg(command: Optional[str]) -> Optional[str]:
    """The value of ``--conf`` in a recorded command line, if any."""
    if not command:
        return None
    try:
        args = shlex.split(command)
    except ValueError:
        return None
    for i, a in enumerate(args):
        if a == "--conf" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--conf="):
            return a.split("=", 1)[1]
    return None


def system_provenance(system_dir: Path, recipe_dir: Path) -> Provenance:
    """Command and config of one system. Config: ``<system>/config.yaml`` (E2E systems keep a
    copy); else the ``--conf`` file named in command.txt, hashed now (it may have changed
    since training); else the config embedded in train.json (GMM systems)."""
    cmd_path = system_dir / COMMAND_FILE
    command = cmd_path.read_text(encoding="utf-8").strip() if cmd_path.is_file() else None
    copy = system_dir / "config.yaml"
    if copy.is_file():
        return Provenance(system_dir.name, command, f"{system_dir.name}/config.yaml", sha256_prefix(copy), "copy saved at training")
    conf = _conf_arg(command)
    if conf:
        path = Path(conf) if Path(conf).is_absolute() else recipe_dir / conf
        if path.is_file():
            inherits = [p.name for p in config_chain(path)[1:]]
            note = "file named by --conf, hashed now" + (f" with {', '.join(inherits)}" if inherits else "")
            return Provenance(system_dir.name, command, conf, sha256_prefix(path), note)
        return Provenance(system_dir.name, command, conf, None, "file named by --conf no longer exists")
    train = system_dir / "train.json"
    if train.is_file():
        try:
            cfg = json.loads(train.read_text(encoding="utf-8")).get("config")
        except json.JSONDecodeError:
            cfg = None
        if cfg is not None:
            digest = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]
            return Provenance(system_dir.name, command, f"{system_dir.name}/train.json:config", digest, "config embedded in train.json")
    return Provenance(system_dir.name, command, None, None, "no config found")


OTHER_STATE = "‡"  # trained at another commit (or other uncommitted changes) than this page
NOT_RECORDED = "†"  # no provenance.json: trained before provenance was recorded at training time


def _states(record: dict) -> list[str]:
    return [r.get("state", "unknown") for r in [*record.get("previous", []), record]]


def provenance_marks(exp: Path, systems: Sequence[str], page_state: str) -> dict[str, str]:
    """system -> mark for the tables ("" when trained at the page's code state)."""
    marks = {}
    for system in systems:
        record = read_provenance(exp / system)
        if record is None:
            marks[system] = NOT_RECORDED
        elif any(state != page_state for state in _states(record)):
            marks[system] = OTHER_STATE
    return marks


def marks_note(marks: Mapping[str, str], page_state: str) -> str:
    if not marks:
        return ""
    other = sorted(s for s, m in marks.items() if m == OTHER_STATE)
    missing = sorted(s for s, m in marks.items() if m == NOT_RECORDED)
    parts = []
    if other:
        parts.append(f"{OTHER_STATE} = trained at another code state than this page's (`{page_state}`): {', '.join(other)}")
    if missing:
        parts.append(f"{NOT_RECORDED} = no training provenance recorded: {', '.join(missing)}")
    return "Rows marked " + "; ".join(parts) + " (see Provenance).\n"


def provenance_section(exp: Path, systems: Sequence[str], recipe_dir: Path, page_state: str = "unknown") -> str:
    """Markdown ``<details>`` block: one table line per system."""
    lines = ["<details><summary>Code state, commands and configs of the systems (click to expand)</summary>", "",
             f"This page was generated at code state `{page_state}` (commit, `-dirty-<hash>` = uncommitted changes to "
             "tracked files other than docs and *.md).", "",
             "| system | trained at | training command | config | sha256[:12] |", "|---|---|---|---|---|"]
    for system in systems:
        record = read_provenance(exp / system)
        p = system_provenance(exp / system, recipe_dir)
        if record is not None:
            states = _states(record)
            mark = f" {OTHER_STATE}" if any(s != page_state for s in states) else ""
            trained = " then ".join(f"`{s}`" for s in states) + f" ({record.get('date', '?')}){mark}"
            if record.get("note"):
                trained += f"; {record['note']}"
            command = record.get("command") or p.command
            digest = (record.get("config_sha256") or "")[:12] or p.config_sha256
            conf = f"`{p.config_path}`" if p.config_path else "config recorded at training"
        else:
            trained, command, digest = f"not recorded {NOT_RECORDED}", p.command, p.config_sha256
            conf = f"`{p.config_path}` ({p.config_note})" if p.config_path else p.config_note
        cmd = f"`{command}`" if command else "_no command recorded_"
        lines.append(f"| {system} | {trained} | {cmd.replace('|', '&#124;')} | {conf} | {digest or '–'} |")
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
