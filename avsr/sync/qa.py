"""The AV-sync data-QA stage: estimate every clip's offset, flag clips beyond a tolerance, and
keep, drop or shift-correct them in every cut set of the corpus.

Offsets are estimated on the clean splits (train/dev/test); a decision about a clip applies to
every cut made from it (its noisy copies name it in ``custom.clean_cut_id``). Flagged = the
estimate is beyond ``tolerance`` frames *and* its confidence reaches ``min_confidence`` (an
estimate below it is "uncertain": counted and reported, never acted on).

Idempotent and atomic:
- the stage-3 manifests are copied once to ``<video-dir>/sync_orig/``; every run starts from
  those copies, so a re-run (or a run with another policy) gives the same result as the first,
  and ``keep`` restores the originals;
- the SHA-256 of every manifest this stage writes is recorded (``sync_state.json``, written
  before the manifests are renamed into place), so a manifest stage 3 rewrites later is seen
  as a new original, and a killed run is simply re-run;
- each manifest is replaced by an atomic rename; the report is written last.
"""
from __future__ import annotations

import gzip
import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from lhotse import CutSet

from avsr.data.manifests import load_cuts
from avsr.sync.estimate import OffsetEstimate
from avsr.sync.shift import add_video_shift
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path, file_sha256, temp_path_for, write_json_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)
POLICIES = ("keep", "drop", "shift")
CLEAN_SPLITS = ("train", "dev", "test")
ORIG_DIR = "sync_orig"
STATE_FILE = "sync_state.json"


@dataclass(frozen=True)
class QaPolicy:
    policy: str = "keep"  # keep | drop | shift
    tolerance: int = 1  # frames: |offset| > tolerance is out of sync
    min_confidence: float = 0.0  # estimates below are "uncertain" (never acted on)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise AvsrInputError(None, f"unknown sync policy {self.policy!r} (one of {', '.join(POLICIES)})")
        if self.tolerance < 0:
            raise AvsrInputError(None, f"sync tolerance must be >= 0 frames, not {self.tolerance}")


def decide(est: OffsetEstimate, policy: QaPolicy) -> str:
    """``ok`` | ``uncertain`` (beyond tolerance, confidence too low) | ``kept`` | ``dropped`` |
    ``shifted`` (beyond tolerance and confident: the policy's action)."""
    if abs(est.offset_frames) <= policy.tolerance:
        return "ok"
    if not est.confidence >= policy.min_confidence:  # NaN confidence is uncertain too
        return "uncertain"
    return {"keep": "kept", "drop": "dropped", "shift": "shifted"}[policy.policy]


def clean_id(cut) -> str:
    return (cut.custom or {}).get("clean_cut_id", cut.id) if not hasattr(cut, "tracks") else cut.tracks[0].cut.id


def cut_set_names(feature_dir: PathLike, corpus: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(corpus)}_cuts_(.+)\.jsonl\.gz$")
    return sorted(m.group(1) for f in Path(feature_dir).iterdir() if (m := pattern.match(f.name)))


def write_cuts_reproducibly(cuts: CutSet, path: PathLike) -> None:
    """A .jsonl.gz manifest as lhotse writes it (one JSON cut per line) but with a fixed gzip
    header (no file name, mtime 0): the same cuts always give the same bytes, so a re-run is
    byte-identical and the hashes in the state file identify our outputs."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        for cut in cuts:
            gz.write((json.dumps(cut.to_dict(), ensure_ascii=False) + "\n").encode("utf-8"))


class Originals:
    """The stage-3 manifests as they were before any QA run (see the module docstring)."""

    def __init__(self, feature_dir: PathLike, corpus: str, video_dir: PathLike) -> None:
        self.feature_dir, self.corpus = Path(feature_dir), corpus
        self.orig_dir = Path(video_dir) / ORIG_DIR
        self.state_path = Path(video_dir) / STATE_FILE
        self.state = json.loads(self.state_path.read_text()) if self.state_path.is_file() else {"written": {}}

    def current(self, name: str) -> Path:
        return self.feature_dir / f"{self.corpus}_cuts_{name}.jsonl.gz"

    def original(self, name: str) -> Path:
        """The original of a set: saved on first sight, or again when stage 3 rewrote the set."""
        cur, orig = self.current(name), self.orig_dir / f"{self.corpus}_cuts_{name}.jsonl.gz"
        if orig.is_file():
            sha = file_sha256(cur)
            if sha == file_sha256(orig) or sha in self.state["written"].get(name, []):
                return orig
            log.info("%s changed since the last sync QA run (stage 3 re-run?): taking it as the new original", cur)
        with atomic_path(orig) as tmp:
            shutil.copyfile(cur, tmp)
        return orig

    def replace_all(self, outputs: dict[str, CutSet]) -> None:
        """Write every set's new manifest: temp files first, then the state (their hashes), then
        the renames. A set equal to its original is restored byte for byte (policy keep)."""
        temps = {}
        try:
            for name, cuts in outputs.items():
                tmp = temp_path_for(self.current(name))
                if cuts is None:
                    shutil.copyfile(self.orig_dir / self.current(name).name, tmp)
                else:
                    write_cuts_reproducibly(cuts, tmp)
                temps[name] = tmp
            for name, tmp in temps.items():
                known = self.state["written"].setdefault(name, [])
                sha = file_sha256(tmp)
                if sha not in known:
                    known.append(sha)
            write_json_atomic(self.state_path, self.state)
            for name, tmp in temps.items():
                tmp.replace(self.current(name))
        finally:
            for tmp in temps.values():
                if tmp.exists():
                    tmp.unlink()


def count_lines(path: PathLike) -> int:
    """Cuts in a .jsonl.gz manifest (one per line)."""
    with gzip.open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def clean_sets(names: Sequence[str]) -> list[str]:
    return [s for s in CLEAN_SPLITS if s in names]


def apply_policy(feature_dir: PathLike, corpus: str, video_dir: PathLike, decisions: dict[str, tuple[str, int]],
                 names: Optional[Sequence[str]] = None) -> dict[str, dict]:
    """Rewrite every cut set from its original: ``decisions`` maps a clean cut id to (action,
    offset). Returns per-set counts {cuts_in, cuts_out, dropped, shifted}."""
    originals = Originals(feature_dir, corpus, video_dir)
    names = list(names) if names is not None else cut_set_names(feature_dir, corpus)
    outputs, stats = {}, {}
    acting = any(a in ("dropped", "shifted") for a, _ in decisions.values())
    for name in names:
        orig = originals.original(name)
        if not acting:  # nothing to change: restore the originals without parsing them (fast path)
            n = count_lines(orig)
            stats[name] = {"cuts_in": n, "cuts_out": n, "dropped": 0, "shifted": 0}
            outputs[name] = None
            continue
        cuts = load_cuts(orig)
        kept, dropped, shifted = [], 0, 0
        for cut in cuts:
            action, offset = decisions.get(clean_id(cut), ("ok", 0))
            if action == "dropped":
                dropped += 1
                continue
            if action == "shifted" and offset:
                cut = add_video_shift(cut, -offset)
                shifted += 1
            kept.append(cut)
        stats[name] = {"cuts_in": len(cuts), "cuts_out": len(kept), "dropped": dropped, "shifted": shifted}
        outputs[name] = None if not dropped and not shifted else CutSet.from_cuts(kept)
        if dropped and not kept:
            raise AvsrInputError(originals.current(name), f"sync QA would drop all {len(cuts)} cuts of the set: "
                                 "check the estimates (sync_report.json) or use --policy keep/shift")
    originals.replace_all(outputs)
    return stats


def original_clean_cuts(feature_dir: PathLike, corpus: str, video_dir: PathLike) -> dict[str, CutSet]:
    """The clean splits' original cuts (what the offsets are estimated on)."""
    if not Path(feature_dir).is_dir():
        raise AvsrInputError(feature_dir, "feature directory does not exist: run stage 3 (features) first")
    originals = Originals(feature_dir, corpus, video_dir)
    names = cut_set_names(feature_dir, corpus)
    if not names:
        raise AvsrInputError(feature_dir, f"no {corpus}_cuts_*.jsonl.gz: run stage 3 (features) first")
    splits = clean_sets(names)
    if not splits:
        raise AvsrInputError(feature_dir, f"no clean split (train/dev/test) among the {corpus} cut sets")
    return {s: load_cuts(originals.original(s)) for s in splits}
