#!/usr/bin/env python3
"""Stage 0 of egs/grid (second half): the word lexicon the pipeline's lang dir is built from.

Writes CMUdict pronunciations (ARPAbet, stress removed) of the 51 GRID words, every variant,
as `WORD p1 p2 ...` lines; fails if CMUdict lacks any GRID word.

Example:
  egs/grid/local/make_lexicon.py data/local/grid/lexicon.txt
"""
from __future__ import annotations

import argparse
from pathlib import Path

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this checkout's avsr, whatever the venv has

from avsr.corpora.grid.lexicon import write_grid_lexicon
from avsr.utils.cli import run_cli
from avsr.utils.logging import setup_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="lexicon file to write, e.g. data/local/grid/lexicon.txt")
    parser.add_argument("--keep-stress", action="store_true", help="keep ARPAbet stress digits (AH0, EY1)")
    args = parser.parse_args()
    setup_logging()
    lexicon = write_grid_lexicon(args.out, args.keep_stress)
    print(f"{args.out}: {len(lexicon.words)} GRID words, {len(lexicon.entries)} pronunciations, {len(lexicon.phones)} phones (CMUdict)")


if __name__ == "__main__":
    run_cli(main)
