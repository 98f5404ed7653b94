"""Per-system provenance for RESULTS.md: the training command (``command.txt``, written by
avsr.utils.provenance.record_command) and the config with a sha256 prefix."""
from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import yaml

from avsr.utils.provenance import COMMAND_FILE

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


def provenance_section(exp: Path, systems: Sequence[str], recipe_dir: Path) -> str:
    """Markdown ``<details>`` block: one table line per system."""
    lines = ["<details><summary>Commands and configs of the systems (click to expand)</summary>", "",
             "| system | training command (command.txt) | config | sha256[:12] |", "|---|---|---|---|"]
    for system in systems:
        p = system_provenance(exp / system, recipe_dir)
        cmd = f"`{p.command}`" if p.command else "_no command.txt (trained before provenance was recorded)_"
        conf = f"`{p.config_path}` ({p.config_note})" if p.config_path else p.config_note
        lines.append(f"| {system} | {cmd.replace('|', '&#124;')} | {conf} | {p.config_sha256 or '–'} |")
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
