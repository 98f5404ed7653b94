"""Shared helpers of the bench/ scripts: Markdown tables, cut-manifest statistics, the
experiment-dir layout (which systems exist, what kind they are) and the host header.

Scripts in bench/ import this as ``_common`` (their own directory is first on sys.path when
run as ``python bench/<script>.py``)."""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FRAME_RATE = 100  # fbank / MFCC frames per second (10 ms shift) everywhere in the recipe
NOT_RECORDED = "n/r"  # the experiment's outputs do not record this quantity


# ---------------------------------------------------------------- formatting

def fmt(value: Optional[float], digits: int = 1, thousands: bool = False) -> str:
    """A table cell: ``n/r`` for None, else the number with ``digits`` decimals."""
    if value is None:
        return NOT_RECORDED
    if thousands:
        return f"{value:,.{digits}f}"
    return f"{value:.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[bool] = ()) -> str:
    """A GitHub Markdown table; columns flagged in ``numeric`` are right-aligned."""
    numeric = list(numeric) + [False] * (len(headers) - len(numeric))
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def parse_markdown_table(text: str) -> list[dict[str, str]]:
    """Rows of the first Markdown table in ``text`` as header → cell dicts (for tests and tools)."""
    lines = [ln.strip() for ln in text.splitlines()]
    start = next((i for i, ln in enumerate(lines) if ln.startswith("|") and i + 1 < len(lines)
                  and lines[i + 1].startswith("|") and set(lines[i + 1]) <= set("|-: ")), None)
    if start is None:
        return []
    headers = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for ln in lines[start + 2:]:
        if not ln.startswith("|"):
            break
        rows.append(dict(zip(headers, (c.strip() for c in ln.strip("|").split("|")))))
    return rows


def mean_min_max(values: Sequence[float]) -> tuple[float, float, float]:
    return statistics.mean(values), min(values), max(values)


# ---------------------------------------------------------------- cut manifests

@dataclass(frozen=True)
class SetStats:
    """Size of one cut set: utterances, seconds of audio, input frames (100 fps)."""
    utts: int
    seconds: float
    frames: int


def find_cut_manifest(data_dir: Path, set_name: str, corpus: Optional[str] = None) -> Optional[Path]:
    """``<data>/fbank/<corpus>_cuts_<set>.jsonl.gz``; with no corpus, the one file matching the set
    (None when absent or ambiguous)."""
    fbank = Path(data_dir) / "fbank"
    if corpus:
        path = fbank / f"{corpus}_cuts_{set_name}.jsonl.gz"
        return path if path.is_file() else None
    matches = sorted(fbank.glob(f"*_cuts_{set_name}.jsonl.gz"))
    # one match per corpus ("*_cuts_test.jsonl.gz" does not match "..._cuts_test_babble_snr0..."):
    # several matches mean several corpora share the dir, and the caller must name one
    return matches[0] if len(matches) == 1 else None


@lru_cache(maxsize=None)
def _manifest_stats(path: str) -> SetStats:
    from lhotse import load_manifest_lazy

    utts, seconds, frames = 0, 0.0, 0
    for cut in load_manifest_lazy(path):
        utts += 1
        seconds += cut.duration
        # the stored feature matrix is what training reads; fall back to duration x 100 fps
        frames += cut.num_frames if cut.has_features and cut.num_frames else int(round(cut.duration * FRAME_RATE))
    return SetStats(utts, seconds, frames)


def set_stats(data_dir: Optional[Path], set_name: str, corpus: Optional[str] = None) -> Optional[SetStats]:
    """Statistics of a cut set from its feature manifest (read once per process), or None."""
    if data_dir is None:
        return None
    path = find_cut_manifest(Path(data_dir), set_name, corpus)
    return _manifest_stats(str(path)) if path else None


# ---------------------------------------------------------------- experiment layout

def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def read_yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(Path(path).read_text()) if Path(path).is_file() else {}


def system_kind(system_dir: Path) -> Optional[str]:
    """'e2e', 'hybrid', 'gmm' or None, from the files a system dir holds (not its name, so
    renamed or extra systems are still found)."""
    d = Path(system_dir)
    if (d / "log" / "epochs.csv").is_file():
        return "e2e"
    if d.name.startswith("hybrid_") or (d / "frontend.npz").is_file():
        return "hybrid"
    train = d / "train.json"
    if train.is_file() and read_json(train).get("kind") in ("mono", "tri"):
        return "gmm"
    return None


def systems(exp_dir: Path) -> list[tuple[str, Path]]:
    """(kind, dir) of every system under ``exp_dir``, GMM first, then hybrid, then E2E."""
    order = {"gmm": 0, "hybrid": 1, "e2e": 2}
    found = [(system_kind(d), d) for d in sorted(Path(exp_dir).iterdir()) if d.is_dir()]
    return sorted(((k, d) for k, d in found if k), key=lambda kd: (order[kd[0]], kd[1].name))


def default_data_dir(exp_dir: Path) -> Optional[Path]:
    """The data dir named in an E2E system's config.yaml, else ``<exp>/../data`` when it exists."""
    for kind, d in systems(exp_dir):
        if kind == "e2e":
            data = read_yaml(d / "config.yaml").get("data", {}).get("dir")
            if data and Path(data).is_dir():
                return Path(data)
    sibling = Path(exp_dir).resolve().parent / "data"
    return sibling if sibling.is_dir() else None


# ---------------------------------------------------------------- host

def host_header() -> str:
    """Markdown lines: date, CPUs, load average, Python/torch versions and threads."""
    import torch

    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join([
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}",
        f"- host: {platform.machine()}, {cpus} CPUs ({usable} usable), load average (1/5/15 min) {load}",
        f"- python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} intra-op threads by default)",
    ])


def exp_data_parser(doc: str) -> argparse.ArgumentParser:
    """The --exp / --data options every experiment-reading benchmark takes; ``doc``: its __doc__."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0], epilog="\n".join(doc.split("\n")[1:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", type=Path, required=True, help="experiment root (exp/)")
    p.add_argument("--data", type=Path, help="data root with fbank/ manifests (default: from an E2E "
                   "config.yaml, else <exp>/../data)")
    return p
