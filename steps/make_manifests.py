#!/usr/bin/env python3
"""Stage 1: lhotse manifests (recordings with audio + video, supervisions with word/phone
alignments, cuts) from data-preparation records ``<index-dir>/{train,dev,test}.jsonl`` and any
extra clean evaluation split there (``dev_<name>.jsonl``, ``test_<name>.jsonl``, e.g. the
embedded corpus's ``test_unseenaccent``; see avsr.data.splits).

Clips that fail a check (corrupt video, missing audio track, AV length mismatch, wrong
sample rate, empty transcript, word outside the vocabulary) are skipped and listed in
``<out-dir>/<corpus>_bad_cuts_<split>.txt``. The manifests are validated with lhotse.
"""
import argparse
import logging
from pathlib import Path

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's avsr, whatever the venv has

from avsr.corpora.grid.grammar import grid_vocabulary
from avsr.data.manifests import build_manifests, manifest_path, write_manifests
from avsr.data.records import read_records
from avsr.data.splits import index_splits
from avsr.utils.parallel import job_pool
from avsr.utils.cli import run_cli
from avsr.utils.errors import AvsrInputError
from avsr.utils.logging import setup_logging


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index-dir", required=True, type=Path, help="dir with <split>.jsonl records from stage 0")
    p.add_argument("--corpus", required=True, help="corpus name used in manifest file names")
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--splits", nargs="+",
                   help="default: train dev test and every extra dev_*/test_* split of --index-dir")
    p.add_argument("--vocabulary", choices=["grid", "none"], default="grid", help="reject words outside the GRID grammar")
    p.add_argument("--nj", type=int, default=2)
    p.add_argument("--force", action="store_true", help="rebuild even if the cuts manifest exists")
    p.add_argument("--log-file", type=Path)
    args = p.parse_args()
    setup_logging(args.log_file)
    vocab = grid_vocabulary() if args.vocabulary == "grid" else None
    splits = args.splits or index_splits(args.index_dir)
    with job_pool(args.nj) as pool:
        for split in splits:
            make_split(args, split, vocab, pool)


def make_split(args: argparse.Namespace, split: str, vocab, pool) -> None:
    if manifest_path(args.out_dir, args.corpus, "cuts", split).is_file() and not args.force:
        logging.info("%s %s: manifests exist, skipping", args.corpus, split)
        return
    index = args.index_dir / f"{split}.jsonl"
    if not index.is_file():
        raise AvsrInputError(index, "data-preparation index not found: run stage 0 first")
    records = read_records(index)
    recs, sups, cuts, bad = build_manifests(records, vocab, num_jobs=args.nj, desc=f"{split} manifests", executor=pool)
    if bad and not len(cuts):
        raise AvsrInputError(index, f"all {len(bad)} clips are bad, e.g. {bad[0].utt_id}: {bad[0].reason}")
    write_manifests(args.out_dir, args.corpus, split, recs, sups, cuts, bad)
    hours = sum(r.duration for r in recs) / 3600
    speakers = len({s.speaker for s in sups})
    logging.info("%s %s: %d cuts, %d speakers, %.3f h, %d bad", args.corpus, split, len(cuts), speakers, hours, len(bad))


if __name__ == "__main__":
    run_cli(main)
