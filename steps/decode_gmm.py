#!/usr/bin/env python3
"""Stage 7: decode a GMM-HMM system (exp/mono, exp/tri) through its HCLG on dev/test and the
noisy copies; acoustic scale swept on --dev-set. Writes MODEL/score_<set>/summary.json
(frame PER, WER, PER with per-utterance counts) like the hybrid systems.

  steps/decode_gmm.py --model exp/tri --graph exp/tri/graph_grid --lexicon data/lang_espeak/lexicon.txt
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.hmm.evaluate import evaluate_gmm  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.config import load_yaml  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402

DEFAULT_SETS = "dev,test,test_babble_snr10,test_babble_snr0,test_babble_snr-5"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--graph", required=True)
    p.add_argument("--phone-graph", help="phone-level HCLG (steps/make_hclg.py --phone-out) for PER by phone decoding")
    p.add_argument("--phone-sets", help="comma-separated sets decoded through --phone-graph (default: all); the others get "
                   "PER from the word hypotheses")
    p.add_argument("--lexicon", help="lexicon.txt for PER")
    p.add_argument("--feature-dir", default="data/fbank")
    p.add_argument("--corpus", default="synthetic_grid")
    p.add_argument("--sets", default=DEFAULT_SETS)
    p.add_argument("--dev-set", default="dev")
    p.add_argument("--conf", default="conf/gmm.yaml", help="decode: beam, acoustic_scales")
    p.add_argument("--log-file")
    args = p.parse_args()
    setup_logging(args.log_file)
    dec = load_yaml(args.conf).get("decode", {})
    res = evaluate_gmm(args.model, args.feature_dir, args.corpus, args.sets.split(","), args.graph, args.lexicon, args.dev_set,
                       dec.get("acoustic_scales", (0.05, 0.067, 0.083, 0.1, 0.125, 0.15)), dec.get("beam", 13.0), args.phone_graph,
                       args.phone_sets.split(",") if args.phone_sets else None)
    for s, r in res.items():
        print(f"{args.model} {s}: frame PER {r.get('frame_per')}%  WER {r.get('wer')}%  PER {r.get('per_phone_decode', '-')}% (phone decode), {r.get('per_word_decode', '-')}% (words -> phones)  search failures {r.get('search_failures', '-')}")


if __name__ == "__main__":
    run_cli(main)
