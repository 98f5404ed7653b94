#!/usr/bin/env python3
"""Decode the prepared real GRID clips with models the top-level recipe trained on the embedded
(synthetic) corpus: GMM (exp/tri through exp/tri/graph_grid_espeak), hybrid DNN-HMMs and E2E
(CTC+attention, transducer; + HLG with exp/graphs/hlg_grid_bpe), audio-only, video-only and AV.

Needs egs/grid stages 0-3 (features in <grid-data>/fbank) and a finished top-level run. The
union of --sets (default: test and train, i.e. every GRID clip prepared) is decoded as one
set; the models are only read (outputs go to shadow dirs under --out-dir). Writes
<out-dir>/results.txt (one %WER line per system and method) and results.json; prints the lines.
Systems whose model does not exist are skipped (listed in results.json), unless --strict.

Example (from the repository root, after ./run.sh and egs/grid/run.sh --stop-stage 3):
  egs/grid/local/decode_with_embedded_model.py --model-exp exp --lang data/lang_espeak \\
      --grid-data egs/grid/data --out-dir egs/grid/exp/embedded_models
"""
from __future__ import annotations

import argparse
from pathlib import Path

from avsr.data.grid_decode import DEFAULT_SYSTEMS, decode_with_embedded_models
from avsr.utils.cli import run_cli
from avsr.utils.logging import setup_logging

REPO = Path(__file__).resolve().parents[3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-exp", type=Path, default=REPO / "exp", help="the top-level recipe's exp dir (default: %(default)s)")
    parser.add_argument("--lang", type=Path, default=REPO / "data" / "lang_espeak",
                        help="its espeak lang dir; lexicon.txt gives PER (default: %(default)s)")
    parser.add_argument("--model-root", type=Path, default=None,
                        help="where the top-level run.sh ran (relative paths inside the models; default: parent of --model-exp)")
    parser.add_argument("--grid-data", type=Path, default=REPO / "egs" / "grid" / "data", help="egs/grid data dir (default: %(default)s)")
    parser.add_argument("--out-dir", type=Path, default=REPO / "egs" / "grid" / "exp" / "embedded_models",
                        help="shadow model dirs, combined cut set and results (default: %(default)s)")
    parser.add_argument("--sets", nargs="+", default=["test", "train"], help="GRID cut sets decoded together (default: %(default)s)")
    parser.add_argument("--systems", nargs="+", default=list(DEFAULT_SYSTEMS), help="systems under --model-exp (default: %(default)s)")
    parser.add_argument("--graph-name", default="graph_grid_espeak", help="HCLG under <model-exp>/tri (default: %(default)s)")
    parser.add_argument("--hlg-name", default="hlg_grid_bpe", help="HLG under <model-exp>/graphs for hlg_1best; skipped if absent (default: %(default)s)")
    parser.add_argument("--beam", type=float, default=13.0,
                        help="GMM/hybrid HCLG beam (default: %(default)s, as conf/gmm.yaml; no surviving path = empty hypothesis)")
    parser.add_argument("--avg", type=int, default=3, help="E2E: average this many last epochs (default: %(default)s)")
    parser.add_argument("--strict", action="store_true", help="a missing system is an error, not a skip")
    parser.add_argument("--log-file", type=Path, default=None)
    args = parser.parse_args()
    setup_logging(args.log_file)
    results = decode_with_embedded_models(args.model_exp, args.lang, args.grid_data / "fbank", args.out_dir, args.systems,
                                          args.sets, model_root=args.model_root, avg=args.avg, skip_missing=not args.strict,
                                          graph_name=args.graph_name, hlg_name=args.hlg_name, beam=args.beam)
    for r in results:
        print(r.line())
    print(f"{args.out_dir / 'results.txt'}: {len(results)} %WER lines")


if __name__ == "__main__":
    run_cli(main)
