#!/usr/bin/env python3
"""Decode prepared GRID clips (<data>/fbank/<corpus>_cuts_<set>.jsonl.gz) with every trained
system of an exp dir — mono/tri GMMs, hybrid DNNs (incl. posterior averaging), CTC+attention
and transducer models — and print one %WER line per system, method and set:

  %WER 12.34 [ 37 / 300, 1 ins, 2 del, 34 sub ] <system> (<family>, <A|V|AV>) <method> <set>

The models are only read (outputs go to shadow dirs under --out-dir); the GMM/hybrid acoustic
scale is the one each system chose on its own dev set. Writes <out-dir>/results.txt and
results.json (incl. the systems not decoded and why). Usually called by decode_corpus.sh.

Example:
  egs/grid/local/decode_corpus.py --exp exp --data work/data --out-dir work/decode --sets test test_babble_snr0
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this checkout's avsr, whatever the venv has

from avsr.corpora.grid.decode import decode_exp
from avsr.utils.cli import run_cli
from avsr.utils.logging import setup_logging


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", type=Path, required=True, help="exp dir of a finished run (top-level exp, or egs/grid/exp)")
    p.add_argument("--data", type=Path, required=True, help="data dir with fbank/<corpus>_cuts_<set>.jsonl.gz")
    p.add_argument("--out-dir", type=Path, required=True, help="shadow model dirs and results")
    p.add_argument("--sets", nargs="+", default=["test"], help="cut sets to decode (default: %(default)s)")
    p.add_argument("--corpus", default="grid")
    p.add_argument("--systems", nargs="+", default=None, help="only these systems (default: every trained one)")
    p.add_argument("--model-root", type=Path, default=None,
                   help="where the recipe ran (relative paths inside the models; default: parent of --exp)")
    p.add_argument("--beam", type=float, default=13.0, help="GMM/hybrid HCLG beam (default: %(default)s)")
    p.add_argument("--log-file", type=Path)
    args = p.parse_args()
    setup_logging(args.log_file)
    results = decode_exp(args.exp, args.data, args.out_dir, args.sets, args.corpus, args.model_root, args.systems, args.beam)
    skipped = json.loads((args.out_dir / "results.json").read_text())["skipped"]
    for name, why in skipped.items():
        print(f"note: {name} not decoded: {why}")
    for r in results:
        print(r.line())


if __name__ == "__main__":
    run_cli(main)
