#!/usr/bin/env python3
"""Write the transcripts of a cut manifest as plain text, one sentence per line (LM training text).

Example: steps/export_text.py data/manifests/synthetic_grid_cuts_train.jsonl.gz data/lm/train_text.txt
"""
import argparse
from pathlib import Path

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's avsr, whatever the venv has

from avsr.data.manifests import load_cuts
from avsr.utils.cli import run_cli
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_text_atomic


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cuts", type=Path, help="cut manifest (.jsonl.gz)")
    p.add_argument("out", type=Path, help="text file to write")
    args = p.parse_args()
    lines = [s.text.strip() for cut in load_cuts(args.cuts) for s in cut.supervisions]
    if not lines or not all(lines):
        raise AvsrInputError(args.cuts, "no transcripts, or an empty transcript, in this manifest")
    write_text_atomic(args.out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    run_cli(main)
