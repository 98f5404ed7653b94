#!/usr/bin/env python3
"""Decoding real-time factor per decoding method, from the score files of an experiment dir.

Nothing is re-run. One Markdown table:

  family | method | systems | sets | audio s | decode s | acoustic % | RTF mean | RTF min | RTF max

  .venv/bin/python bench/bench_decode.py --exp exp [--data data] [--by-system]

RTF = decode seconds / audio seconds of one (system, set), single process; mean/min/max are over
every (system, set) pair of the method; audio s and decode s are totals. "acoustic %" is the share
of decode time spent computing the acoustic scores (features + network / GMM), the rest is search.
  E2E (ctc_attention, transducer)  <sys>/decode_*/<set>/<method>/score.json: decode_seconds
      (that method's search + the encoder, timed as if the method ran alone), encoder_seconds,
      audio_seconds. When a system was decoded with several checkpoints, the newest score counts.
  hybrid, gmm  <sys>/score_<set>/summary.json: eval_seconds (load features + DNN/GMM scores) +
      seconds (HCLG word decode, the phone-bigram decode for PER when run, frame PER, writing);
      audio seconds from <data>/fbank/<corpus>_cuts_<set>.jsonl.gz (else the scored frames / 100,
      marked ≈). The dev-set acoustic-scale sweep is not counted.
--by-system prints one row per (system, method) instead of per (family, method).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from _common import (FRAME_RATE, NOT_RECORDED, default_data_dir, exp_data_parser, fmt, markdown_table, mean_min_max, read_json,
                     set_stats, systems)


@dataclass
class DecodeRecord:
    """One decoded (system, set, method)."""
    family: str
    system: str
    method: str
    set_name: str
    audio_seconds: float
    decode_seconds: float
    acoustic_seconds: Optional[float]
    audio_estimated: bool = False  # audio seconds from scored frames, not the manifest

    @property
    def rtf(self) -> float:
        return self.decode_seconds / self.audio_seconds if self.audio_seconds > 0 else float("nan")


def e2e_records(system_dir: Path) -> list[DecodeRecord]:
    """Newest score.json per (set dir, method) of one E2E system."""
    newest: dict[tuple[str, str], Path] = {}
    for score in system_dir.glob("decode_*/*/*/score.json"):
        key = (score.parent.parent.name, score.parent.name)  # set dir (with _no-<modality>), method
        if key not in newest or score.stat().st_mtime > newest[key].stat().st_mtime:
            newest[key] = score
    out = []
    for (set_dir, _), score in sorted(newest.items()):
        rec = read_json(score)
        if "decode_seconds" not in rec or "audio_seconds" not in rec:
            continue  # written before decode timing was recorded
        out.append(DecodeRecord(rec.get("model", "e2e"), rec.get("system", system_dir.name), rec["method"], set_dir,
                                float(rec["audio_seconds"]), float(rec["decode_seconds"]),
                                rec.get("encoder_seconds")))
    return out


def wfst_records(system_dir: Path, family: str, data_dir: Optional[Path]) -> list[DecodeRecord]:
    """score_<set>/summary.json records of one GMM or hybrid system."""
    graph = None
    if (system_dir / "decode.json").is_file():
        graph = read_json(system_dir / "decode.json").get("graph")
    out = []
    for summary_path in sorted(system_dir.glob("score_*/summary.json")):
        s = read_json(summary_path)
        set_name = s.get("set", summary_path.parent.name[len("score_"):])
        if "wer" not in s:
            method = "frame classification only"
        else:
            method = f"HCLG {Path(graph).name}" if graph else "HCLG"
            if "per_phone_decode" in s or s.get("per_source") == "phone_decode":  # current / older summary.json
                method += " + phone bigram"
        stats = set_stats(data_dir, set_name)
        audio, estimated = (stats.seconds, False) if stats else (s.get("frames", 0) / FRAME_RATE, True)
        acoustic = s.get("eval_seconds")
        decode = float(s.get("seconds", 0.0)) + float(acoustic or 0.0)
        out.append(DecodeRecord(family, system_dir.name, method, set_name, audio, decode, acoustic, estimated))
    return out


def decode_records(exp_dir: Path, data_dir: Optional[Path] = None) -> list[DecodeRecord]:
    """Every decode record under ``exp_dir``."""
    records = []
    for kind, d in systems(exp_dir):
        records += e2e_records(d) if kind == "e2e" else wfst_records(d, kind, data_dir)
    return records


HEADERS = ["family", "method", "systems", "sets", "audio s", "decode s", "acoustic %", "RTF mean", "RTF min", "RTF max"]


def decode_table(records: list[DecodeRecord], by_system: bool = False) -> str:
    """Markdown: one row per (family, method) — or (system, method) — in first-seen order."""
    groups: dict[tuple[str, str], list[DecodeRecord]] = defaultdict(list)
    for r in records:
        groups[(r.system if by_system else r.family, r.method)].append(r)
    rows = []
    for (name, method), recs in groups.items():
        rtfs = [r.rtf for r in recs if r.audio_seconds > 0]
        audio = sum(r.audio_seconds for r in recs)
        decode = sum(r.decode_seconds for r in recs)
        acoustic = [r.acoustic_seconds for r in recs]
        share = 100.0 * sum(acoustic) / decode if None not in acoustic and decode > 0 else None
        mean, lo, hi = mean_min_max(rtfs) if rtfs else (None, None, None)
        approx = "≈" if any(r.audio_estimated for r in recs) else ""
        systems_cell = [] if by_system else [len({r.system for r in recs})]
        rows.append([name, method, *systems_cell, len({r.set_name for r in recs}), approx + fmt(audio), fmt(decode, 2),
                     fmt(share, 0), fmt(mean, 4), fmt(lo, 4), fmt(hi, 4)])
    headers = ["system", "method"] + HEADERS[3:] if by_system else HEADERS
    return markdown_table(headers, rows, [False, False] + [True] * (len(headers) - 2))


def main() -> None:
    p = exp_data_parser(__doc__)
    p.add_argument("--by-system", action="store_true", help="one row per system and method")
    args = p.parse_args()
    if not args.exp.is_dir():
        p.error(f"{args.exp}: not a directory")
    data = args.data or default_data_dir(args.exp)
    records = decode_records(args.exp, data)
    print(f"Decoding speed, {args.exp} (manifests: {data or NOT_RECORDED}), {len(records)} decoded sets\n")
    print(decode_table(records, args.by_system) if records else "no score files found")


if __name__ == "__main__":
    main()
