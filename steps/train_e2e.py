#!/usr/bin/env python3
"""Train an end-to-end AV model (CTC+attention or transducer, by the config's ``model``) on the
stage-3 cuts. Re-running continues after the last saved epoch (resume after a kill).

  python steps/train_e2e.py --conf conf/ctc_attention.yaml --fusion bilinear \\
      --data data --exp-dir exp/ctc_att_av_bilinear
  # multi-GPU / multi-node (gloo on CPU, nccl on CUDA):
  torchrun --nproc_per_node 2 steps/train_e2e.py --conf ... --exp-dir ...
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402
from avsr.utils.provenance import record_provenance  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conf", required=True, help="conf/ctc_attention.yaml or conf/transducer.yaml")
    p.add_argument("--exp-dir", required=True, help="output: config.yaml, tokens/, epoch-N.pt, log/")
    p.add_argument("--data", default="data", help="data directory holding fbank/<corpus>_cuts_<set>.jsonl.gz")
    p.add_argument("--corpus", default="synthetic_grid")
    p.add_argument("--train-set", default="train", help="e.g. train, or train_multi (stage-2 noisy copies)")
    p.add_argument("--dev-set", default="dev", help="validation set ('' to skip)")
    p.add_argument("--fusion", choices=["audio", "video", "concat", "bilinear"], help="override frontend.fusion")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="any config override")
    p.add_argument("--bpe-model", help="shared sentencepiece model, e.g. data/lang_bpe/bpe.model (ids 0/1 = "
                   "<blk>/<sos/eos>); trained there from the training text if missing; default: one per EXP_DIR")
    p.add_argument("--lang", help="lang dir whose non-silence phones are the units of a tokens.unit=phone model "
                   "(e.g. data/lang_espeak)")
    p.add_argument("--ali", help="alignment archive of the training set (e.g. exp/tri/ali_train.npz) for the "
                   "auxiliary frame cross-entropy (train.aux_weight)")
    p.add_argument("--dev-hlg", help="HLG graph dir: per-epoch dev WER of the CTC head (learning curves)")
    p.add_argument("--dev-lg", help="LG graph dir: per-epoch dev WER of a transducer (fst_beam)")
    p.add_argument("--init-from", action="append", default=[], metavar="DIR:PREFIX[,PREFIX]",
                   help="start these parameters from a trained model, e.g. exp/ctc_att_a:frontend.audio.,encoder. "
                        "(repeatable; ignored when resuming)")
    p.add_argument("--init-fusion-from", metavar="DIR", help="AV models: start the fusion as this audio-only "
                   "model's front-end map (video and bilinear terms at zero), so training starts from that model")
    p.add_argument("--init-avg", type=int, default=1, help="--init-from: average the source's last N epochs")
    p.add_argument("--device", default="auto", help="auto (CUDA when present) | cpu | cuda | cuda:N")
    p.add_argument("--log-file", help="also log here")
    args = p.parse_args()
    setup_logging(args.log_file)
    overrides = list(args.set)
    if args.fusion:
        overrides.append(f"frontend.fusion={args.fusion}")
    if args.epochs is not None:
        overrides.append(f"train.epochs={args.epochs}")
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    from avsr.train.e2e import train_e2e

    summary = train_e2e(args.conf, args.exp_dir, args.data, args.corpus, args.train_set, args.dev_set or None, overrides,
                        args.device, args.bpe_model, args.init_from, args.init_avg, args.lang, args.ali,
              args.dev_hlg, args.dev_lg, args.init_fusion_from)
    if summary.get("trained_epochs", 0) > 0:  # trained now (rank 0 writes): code state, config, command
        record_provenance(args.exp_dir, Path(args.exp_dir) / "config.yaml", resumed=summary.get("resumed_from") is not None)


if __name__ == "__main__":
    run_cli(main)
