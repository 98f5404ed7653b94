#!/usr/bin/env python3
"""Build data/lm/<name>: the GRID grammar, a modified Kneser-Ney n-gram (order 1-3) trained
on a text file, or an existing ARPA file; compiled to G.fst over a lang's words.txt.

Examples:
  steps/make_lm.py --kind grid --lang data/lang_espeak data/lm/grid
  steps/make_lm.py --kind ngram --order 3 --text data/lm/train_text.txt --lang data/lang_espeak data/lm/tg
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.lang.lm import make_lm  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", help="LM directory to write, e.g. data/lm/tg")
    p.add_argument("--lang", required=True, help="lang directory (its words.txt is G's symbol table; OOVs are errors)")
    p.add_argument("--kind", choices=("grid", "ngram", "arpa"), default="ngram")
    p.add_argument("--text", help="ngram: training text, one sentence per line")
    p.add_argument("--order", type=int, default=3, choices=(1, 2, 3, 4, 5))
    p.add_argument("--arpa", help="arpa: an existing ARPA file (checked line by line)")
    args = p.parse_args()
    setup_logging()
    build = Path(args.out_dir) / "build.json"
    before = build.stat().st_mtime_ns if build.is_file() else None
    slots = None
    if args.kind == "grid":  # the GRID sentence grammar as a slot grammar
        from avsr.corpora.grid.grammar import grid_slots

        slots = grid_slots()
    kind = "grammar" if args.kind == "grid" else args.kind
    out = make_lm(args.out_dir, args.lang, kind, args.text, args.order, args.arpa, slots=slots)
    print(f"{out}: {'up to date (skipped)' if build.stat().st_mtime_ns == before else 'written'}")


if __name__ == "__main__":
    run_cli(main)
