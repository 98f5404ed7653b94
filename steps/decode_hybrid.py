#!/usr/bin/env python3
"""Stage 9: score a hybrid variant (or a posterior average) on dev/test and their noisy
copies: frame PER against the clean forced alignment, and with --graph WER + PER through
HCLG (pseudo-likelihoods = log posterior - log prior; acoustic scale swept on --dev-set).

  steps/decode_hybrid.py --conf conf/hybrid_bilinear.yaml --model exp/hybrid_bilinear \
      --graph exp/tri/graph_grid --lexicon data/lang_espeak/lexicon.txt

Writes MODEL/score_<set>/summary.json (+ hyp.txt, wer, per) and MODEL/decode.json.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.hybrid.config import load_hybrid_conf  # noqa: E402
from avsr.hybrid.pipeline import evaluate_hybrid  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402
from avsr.utils.provenance import record_provenance  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conf", required=True)
    p.add_argument("--model", required=True, help="model dir (for a posterior average: where its scores go)")
    p.add_argument("--feature-dir", default="data/fbank")
    p.add_argument("--corpus", default="synthetic_grid")
    p.add_argument("--exp", default="exp")
    p.add_argument("--sets", help="comma-separated sets (default: eval_sets of the conf)")
    p.add_argument("--graph", help="HCLG graph dir over the alignment model's pdfs (omit: frame PER only)")
    p.add_argument("--phone-graph", help="phone-level HCLG (steps/make_hclg.py --phone-out) for PER by phone decoding")
    p.add_argument("--phone-sets", help="comma-separated sets decoded through --phone-graph (default: all); the others get "
                   "PER from the word hypotheses")
    p.add_argument("--lexicon", help="lexicon.txt for PER (words -> phones)")
    p.add_argument("--dev-set", default="dev")
    p.add_argument("--device", default="auto")
    p.add_argument("--nj", type=int, default=1)
    p.add_argument("--log-file")
    args = p.parse_args()
    setup_logging(args.log_file)
    conf = load_hybrid_conf(args.conf, args.exp)
    sets = args.sets.split(",") if args.sets else conf.get("eval_sets", ["dev", "test"])
    dec = conf.get("decode", {})
    res = evaluate_hybrid(conf, args.model, args.feature_dir, args.corpus, sets, args.graph, args.lexicon, args.dev_set,
                          dec.get("acoustic_scales", (0.05, 0.067, 0.083, 0.1, 0.125, 0.15, 0.2)), dec.get("beam", 13.0),
                          args.device, args.nj, args.phone_graph,
                          args.phone_sets.split(",") if args.phone_sets else None)
    if conf.get("members"):  # a posterior average is made here, at scoring time: record that
        record_provenance(args.model, conf, note="no training: posterior average of " + ", ".join(map(str, conf["members"])))
    for s, r in res.items():
        print(f"{args.model} {s}: frame PER {r.get('frame_per')}%  WER {r.get('wer')}%  PER {r.get('per_phone_decode', '-')}% (phone decode), {r.get('per_word_decode', '-')}% (words -> phones)  search failures {r.get('search_failures', '-')}")


if __name__ == "__main__":
    run_cli(main)
