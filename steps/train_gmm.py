#!/usr/bin/env python3
"""Stage 6: train a monophone (kaldi-hmm-gmm) or triphone (our decision tree) GMM-HMM on a
cut set and write its forced alignments (pdf, phone, HMM state per frame) of every set.

  steps/train_gmm.py --kind mono --lang data/lang_espeak --feature-dir data/fbank --out exp/mono
  steps/train_gmm.py --kind tri --mono-dir exp/mono --lang data/lang_espeak --feature-dir data/fbank --out exp/tri

Skips itself when the config, lang and cut files are unchanged (key in OUT/train.json).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.data.splits import clean_splits, cut_set_names  # noqa: E402
from avsr.hmm.pipeline import run_gmm_system  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.config import load_yaml  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402
from avsr.utils.provenance import record_provenance  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=["mono", "tri"], required=True)
    p.add_argument("--lang", required=True, help="lang dir (steps/prepare_lang.py)")
    p.add_argument("--feature-dir", default="data/fbank", help="stage-3 cut sets")
    p.add_argument("--corpus", default="synthetic_grid")
    p.add_argument("--train-set", default="train")
    p.add_argument("--align-sets", help="comma-separated sets to align (default: every clean split of --feature-dir: "
                   "train, dev, test and extra dev_*/test_* splits, see avsr.data.splits)")
    p.add_argument("--mono-dir", help="tri only: the monophone system whose alignments feed the tree")
    p.add_argument("--conf", default="conf/gmm.yaml")
    p.add_argument("--out", required=True)
    p.add_argument("--force", action="store_true")
    p.add_argument("--log-file")
    args = p.parse_args()
    setup_logging(args.log_file)
    conf = load_yaml(args.conf)
    align_sets = ([s for s in args.align_sets.split(",") if s] if args.align_sets is not None
                  else clean_splits(cut_set_names(args.feature_dir, args.corpus)) or ["train", "dev", "test"])
    summary = run_gmm_system(
        args.kind, args.lang, args.feature_dir, args.corpus, args.out, conf, args.train_set,
        align_sets, args.mono_dir, args.force,
    )
    if not summary.get("skipped"):  # trained now: record the code state and config it was trained with
        record_provenance(args.out, {k: conf.get(k) for k in ("features", args.kind)})
    state = "up to date (skipped)" if summary.get("skipped") else "trained"
    print(f"{args.out}: {state}; {summary['num_pdfs']} pdfs, {summary['num_gauss']} Gaussians, aligned {summary['aligned']}")


if __name__ == "__main__":
    run_cli(main)
