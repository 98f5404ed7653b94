#!/usr/bin/env python3
"""Decode a score-matrix archive through a graph dir (LG/HLG/HCLG) and write hyp text.

The archive is a .npz with one float32 [T, C] array per utterance id: CTC log-posteriors
(C = tokens.txt size, column = token id, blank 0) or hybrid pseudo-log-likelihoods
(C = number of pdfs). Writes HYP (``utt w1 w2 ...``), HYP.decode.json, and with --nbest N
an n-best list (``utt-rank cost words``).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.decode.decoder import DecodeOptions  # noqa: E402
from avsr.decode.run import decode_archive  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--graph", required=True, help="graph dir from steps/make_graph.sh")
    p.add_argument("--scores", required=True, help=".npz score archive")
    p.add_argument("--out", required=True, help="hyp text to write")
    p.add_argument("--beam", type=float, default=16.0)
    p.add_argument("--max-active", type=int, default=7000)
    p.add_argument("--min-active", type=int, default=20)
    p.add_argument("--acoustic-scale", type=float, default=1.0)
    p.add_argument("--nbest", type=int, default=0, help="also write an N-best list to OUT.nbest")
    p.add_argument("--nbest-columns", type=int, default=4, help="n-best search keeps this many best columns per frame")
    p.add_argument("--allow-partial", choices=["true", "false"], default="true",
                   help="no final state reached: write the best partial hypothesis (true, Kaldi's default) or an empty "
                        "one (false); either way the utterance is counted in HYP.decode.json search_failures")
    args = p.parse_args()
    setup_logging()
    opts = DecodeOptions(args.beam, args.max_active, args.min_active, args.acoustic_scale, max(args.nbest, 1), args.nbest_columns,
                         allow_partial=args.allow_partial == "true")
    nbest_out = f"{args.out}.nbest" if args.nbest > 0 else None
    hyps = decode_archive(args.graph, args.scores, args.out, opts, nbest_out)
    print(f"decoded {len(hyps)} utterance(s) -> {args.out}")


if __name__ == "__main__":
    run_cli(main)
