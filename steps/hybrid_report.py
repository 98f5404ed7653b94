#!/usr/bin/env python3
"""Print (and with --out write) the hybrid/GMM result tables from exp/*/score_*/summary.json:
variant x babble condition frame PER / WER / PER with 95% bootstrap intervals, the seed
paper's orderings checked by paired bootstrap, and model sizes.

  steps/hybrid_report.py --exp exp --split test --out exp/hybrid_report.md
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.hybrid.report import make_report  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.io import write_text_atomic  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", default="exp")
    p.add_argument("--split", default="test", help="dev or test")
    p.add_argument("--out")
    args = p.parse_args()
    text = make_report(args.exp, args.split)
    print(text)
    if args.out:
        write_text_atomic(args.out, text)


if __name__ == "__main__":
    run_cli(main)
