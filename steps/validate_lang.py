#!/usr/bin/env python3
"""Check a lang directory for inconsistent tables (like Kaldi's utils/validate_lang.pl).
Prints every problem, one per line; exit 1 if any."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.lang.validate import find_lang_problems  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("lang_dir")
    args = p.parse_args()
    problems = find_lang_problems(args.lang_dir)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{args.lang_dir}: OK")


if __name__ == "__main__":
    run_cli(main)
