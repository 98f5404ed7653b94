#!/usr/bin/env python3
"""Stage 7: HCLG for a GMM-HMM system (exp/mono: kaldi-hmm-gmm monophone H; exp/tri: our
triphone H over the decision tree's senones). Hybrid DNNs trained on that system's
alignments decode with the same graph (their outputs are its pdfs).

  steps/make_hclg.py --lang data/lang_espeak --lm data/lm/grid --model exp/tri --out exp/tri/graph_grid \
      --phone-out exp/tri/graph_phone_bg     # + phone-level graph for PER
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.hmm.tri_graph import make_model_graph  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lang", required=True)
    p.add_argument("--lm", required=True, help="LM dir (steps/make_lm.py)")
    p.add_argument("--model", required=True, help="exp/mono or exp/tri (final.json + final.npz)")
    p.add_argument("--out", required=True)
    p.add_argument("--phone-out", help="also build a phone-level graph here (phone-bigram LM on the training transcripts)")
    p.add_argument("--feature-dir", default="data/fbank", help="--phone-out: where the training cuts are")
    p.add_argument("--corpus", default="synthetic_grid")
    p.add_argument("--train-set", default="train")
    p.add_argument("--force", action="store_true")
    args = p.parse_args()
    setup_logging()
    info = make_model_graph(args.lang, args.lm, args.model, args.out, args.force)
    state = "up to date (skipped)" if info.get("skipped") else "built"
    print(f"{args.out}: {state}; HCLG {info['sizes']['graph']}, {info['num_columns']} columns")
    if args.phone_out:
        from avsr.hmm.cuts import load_cuts, transcripts
        from avsr.hybrid.phone_graph import make_phone_graph

        texts = transcripts(load_cuts(args.feature_dir, args.corpus, args.train_set))
        graph = make_phone_graph(args.lang, args.model, texts, args.phone_out, force=args.force)
        print(f"{graph}: phone-level HCLG (phone bigram)")


if __name__ == "__main__":
    run_cli(main)
