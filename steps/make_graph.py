#!/usr/bin/env python3
"""Build a decoding graph (LG, HLG for CTC, HCLG for the hybrid) from a lang and an LM
directory; skipped when build.json's input hashes match (so a swap rebuilds only what changed).
Called by steps/make_graph.sh."""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402
from avsr.wfst.make_graph import KINDS, make_graph  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lang", required=True, help="data/lang_<name>")
    p.add_argument("--lm", required=True, help="data/lm/<name>")
    p.add_argument("--kind", choices=KINDS, default="hlg")
    p.add_argument("--model", help="model dir: tokens.txt (CTC) or final.json (GMM-HMM); the graph is built for it, it is never modified")
    p.add_argument("--out", help="graph dir (default exp/graphs/<kind>_<lang>_<lm>)")
    p.add_argument("--force", action="store_true")
    args = p.parse_args()
    setup_logging()
    info = make_graph(args.kind, args.lang, args.lm, args.out, args.model, args.force)
    status = "up to date (skipped)" if info.get("skipped") else "built"
    print(f"{args.kind}: {status}; sizes {json.dumps(info['sizes'])}; seconds {json.dumps(info['seconds'])}")


if __name__ == "__main__":
    run_cli(main)
