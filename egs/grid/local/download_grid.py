#!/usr/bin/env python3
"""Stage -1 of egs/grid: fetch the GRID corpus from the official site, only what is missing.

For each speaker: s<N>/video/s<N>.mpg_vcd.zip (1000 .mpg, 360x288 25 fps, with audio) and
s<N>/align/s<N>.tar (word alignments), unpacked to <corpus-dir>/<spk>/<utt>.mpg and
<corpus-dir>/alignments/<spk>/<utt>.align (the layout stage 0 reads). Speaker 21 has no video.
What is already there is never fetched again nor modified; archives are kept in
<corpus-dir>/downloads/ (delete them after a successful stage 0 to save ~half the disk).
Without network access it fails with a one-line error listing what to fetch by hand.

Examples:
  egs/grid/local/download_grid.py --corpus-dir /data/grid                     # all 34 speakers
  egs/grid/local/download_grid.py --corpus-dir /data/grid --speakers "1-4 20 22"
  egs/grid/local/download_grid.py --corpus-dir /data/grid --check             # only list what is missing
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this checkout's avsr, whatever the venv has

from avsr.corpora.grid.download import OFFICIAL_BASE_URL, download_grid, parse_speakers
from avsr.utils.cli import run_cli
from avsr.utils.logging import setup_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-dir", type=Path, required=True, help="where the corpus is (or goes)")
    parser.add_argument("--speakers", default="all", help="'all' (default), or e.g. 's1 s2' / '1-4,20,22'")
    parser.add_argument("--base-url", default=OFFICIAL_BASE_URL, help="mirror of the official site (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="list missing archives and exit (status 1 if any)")
    parser.add_argument("--log-file", type=Path, default=None, help="also log to this file")
    args = parser.parse_args()
    setup_logging(args.log_file)
    pieces = download_grid(args.corpus_dir, parse_speakers(args.speakers), args.base_url, dry_run=args.check)
    if args.check:
        for piece in pieces:
            print(f"missing\t{piece.speaker}\t{piece.kind}\t{piece.url}")
        print(f"{args.corpus_dir}: {len(pieces)} archive(s) missing" if pieces else f"{args.corpus_dir}: complete")
        sys.exit(1 if pieces else 0)
    print(f"{args.corpus_dir}: fetched and unpacked {len(pieces)} archive(s)" if pieces else f"{args.corpus_dir}: everything present, nothing to do")


if __name__ == "__main__":
    run_cli(main)
