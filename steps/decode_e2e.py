#!/usr/bin/env python3
"""Decode test sets with a trained E2E model (checkpoint averaging with --epoch/--avg) and score
them: writes <exp>/decode_epoch<E>_avg<A>/<set>[_no-<stream>]/<method>/{hyp.txt,wer,per_utt,score.json}.

Methods — CTC+attention: ctc_greedy ctc_prefix_beam attention_beam joint_ctc_attention
hlg_1best hlg_nbest_attention (the hlg_* ones need --hlg-dir); transducer: greedy beam
modified_beam (+ ctc_greedy / ctc_prefix_beam when trained with the auxiliary CTC loss).

  python steps/decode_e2e.py --exp-dir exp/ctc_att_av_bilinear --data data \\
      --sets test test_babble_snr0 test_babble_snr-5 --epoch 12 --avg 4
  # the same AV model with the video stream missing:
  python steps/decode_e2e.py --exp-dir exp/ctc_att_av_bilinear --sets test --drop video
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--data", default="data")
    p.add_argument("--corpus", default="synthetic_grid")
    p.add_argument("--sets", nargs="+", default=["test"], help="cut set names, e.g. test test_babble_snr0")
    p.add_argument("--methods", nargs="+", help="default: every non-HLG method of the model")
    p.add_argument("--epoch", type=int, help="last epoch to use (default: the latest checkpoint)")
    p.add_argument("--avg", type=int, default=1, help="average the weights of this many epochs ending at --epoch")
    p.add_argument("--drop", choices=["audio", "video"], help="decode an AV model with this stream missing")
    p.add_argument("--beam", type=int, default=8, help="CTC prefix / attention / joint beam")
    p.add_argument("--ctc-weight", type=float, default=0.3, help="CTC weight in joint CTC/attention search")
    p.add_argument("--transducer-beam", type=int, default=4)
    p.add_argument("--max-sym-per-frame", type=int, default=3, help="transducer greedy / beam")
    p.add_argument("--hlg-dir", help="graph dir for hlg_* methods (HLG.fst, words.txt, tokens.txt)")
    p.add_argument("--hlg-beam", type=float, default=20.0, help="FasterDecoder beam for hlg_* (retried x4 on failure)")
    p.add_argument("--acoustic-scale", type=float, default=1.0, help="hlg_*: scale of the CTC log-probs")
    p.add_argument("--nbest", type=int, default=10, help="HLG n-best size for attention rescoring")
    p.add_argument("--nbest-attention-weight", type=float, default=0.5)
    p.add_argument("--device", default="auto", help="auto (CUDA when present) | cpu | cuda")
    p.add_argument("--num-threads", type=int, default=2)
    p.add_argument("--log-file")
    args = p.parse_args()
    setup_logging(args.log_file)
    import torch

    from avsr.e2e.decode import SearchOptions, decode_sets
    from avsr.train.data import FeatureCache, cuts_path, load_cuts
    from avsr.train.distributed import resolve_device

    torch.set_num_threads(args.num_threads)
    caches = {s: FeatureCache(load_cuts(cuts_path(args.data, args.corpus, s)), desc=f"load {s}") for s in args.sets}
    opts = SearchOptions(beam=args.beam, ctc_weight=args.ctc_weight, transducer_beam=args.transducer_beam,
                         max_sym_per_frame=args.max_sym_per_frame,
                         hlg_dir=args.hlg_dir, hlg_beam=args.hlg_beam,
                         acoustic_scale=args.acoustic_scale, nbest=args.nbest, nbest_attention_weight=args.nbest_attention_weight)
    decode_sets(args.exp_dir, caches, args.methods, args.epoch, args.avg, args.drop, opts,
                str(resolve_device(args.device)))


if __name__ == "__main__":
    run_cli(main)
