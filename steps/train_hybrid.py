#!/usr/bin/env python3
"""Stage 8: train one hybrid DNN variant on CD-state alignments (conf/hybrid_<variant>.yaml).

  steps/train_hybrid.py --conf conf/hybrid_bilinear.yaml --ali-dir exp/tri --exp exp --out exp/hybrid_bilinear

Deep/shallow fusion and the bilinear variants start from exp/hybrid_audio and exp/hybrid_video
(train those first). Skips itself when config and alignments are unchanged.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.hybrid.config import load_hybrid_conf  # noqa: E402
from avsr.hybrid.pipeline import train_hybrid  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402
from avsr.utils.provenance import record_provenance  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conf", required=True, help="conf/hybrid_<variant>.yaml")
    p.add_argument("--ali-dir", default="exp/tri", help="GMM system whose ali_*.npz / pdf_phone.int give the targets")
    p.add_argument("--feature-dir", default="data/fbank")
    p.add_argument("--corpus", default="synthetic_grid")
    p.add_argument("--exp", default="exp", help="where init_towers / members model dirs live")
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--seed", type=int, help="override train.seed (run.sh --extra-seeds: the same system, another seed)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available) | cpu | cuda[:N]")
    p.add_argument("--nj", type=int, default=1, help="torch CPU threads")
    p.add_argument("--force", action="store_true")
    p.add_argument("--log-file")
    args = p.parse_args()
    setup_logging(args.log_file)
    conf = load_hybrid_conf(args.conf, args.exp)
    if args.epochs:
        conf.setdefault("train", {})["epochs"] = args.epochs
    if args.seed is not None:
        conf.setdefault("train", {})["seed"] = args.seed
    s = train_hybrid(conf, args.feature_dir, args.corpus, args.ali_dir, args.out, args.device, args.nj, args.force)
    if "members" in conf:
        record_provenance(args.out, conf, note="no training: posterior average of " + ", ".join(map(str, conf["members"])))
        print(f"{args.out}: posterior average of {conf['members']} (nothing to train)")
        return
    if not s.get("skipped"):  # trained now: record the code state and config it was trained with
        record_provenance(args.out, conf)
    state = "up to date (skipped)" if s.get("skipped") else "trained"
    last = s["history"][-1] if s.get("history") else {}
    print(f"{args.out}: {state}; {s['architecture']}, {s['parameters']} parameters, dev frame error {last.get('dev_frame_err')}%")


if __name__ == "__main__":
    run_cli(main)
