#!/usr/bin/env python3
"""Decode test sets with a trained E2E model (checkpoint averaging with --epoch/--avg) and score
them, all in one process: writes <exp>/decode_epoch<E>_avg<A>/<set>[_no-<stream>]/<label>/
{hyp.txt,wer|per,per_utt,score.json}.

Methods — CTC+attention: ctc_greedy ctc_prefix_beam attention_beam joint_ctc_attention
hlg_1best hlg_nbest_attention; transducer: greedy beam modified_beam fst_beam (+ the CTC
methods on its auxiliary CTC head). Graph methods take their graph as METHOD=DIR (or the
default --hlg-dir / --lg-dir). With phone units, token methods are scored as PER; words come
from graph methods.

  # every method on the focus sets, the main method on every condition, the AV model without
  # its video on the focus sets and without its audio on the clean test set:
  python steps/decode_e2e.py --exp-dir exp/ctc_att_av_bilinear --data data \\
      --sets test test_babble_snr0 --methods ctc_greedy attention_beam hlg_1best=exp/graphs/hlg_grid_phone \\
      --extra-sets test_babble_snr10 test_white_snr0 --extra-methods hlg_1best=exp/graphs/hlg_grid_phone \\
      --drop-video-sets test test_babble_snr0 --drop-audio-sets test --drop-methods ctc_greedy
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
    p.add_argument("--methods", nargs="*", default=[], help="method specs (METHOD or METHOD=GRAPH_DIR) for --sets")
    p.add_argument("--extra-sets", nargs="*", default=[], help="more sets, decoded with --extra-methods only")
    p.add_argument("--extra-methods", nargs="*", default=[])
    p.add_argument("--drop-video-sets", nargs="*", default=[], help="AV models: these sets with the video missing")
    p.add_argument("--drop-audio-sets", nargs="*", default=[], help="AV models: these sets with the audio missing")
    p.add_argument("--drop-methods", nargs="*", default=[], help="methods for the --drop-*-sets")
    p.add_argument("--ali-dir", help="GMM dir with ali_<set>.npz + phones.txt (e.g. exp/tri): phone references "
                   "for corpora whose supervisions carry words only (PER of phone-unit searches)")
    p.add_argument("--epoch", type=int, help="last epoch to use (default: the latest checkpoint)")
    p.add_argument("--avg", type=int, default=1, help="average the weights of this many epochs ending at --epoch")
    p.add_argument("--beam", type=int, default=8, help="CTC prefix / attention / joint beam")
    p.add_argument("--ctc-weight", type=float, default=0.3, help="CTC weight in joint CTC/attention search")
    p.add_argument("--transducer-beam", type=int, default=4)
    p.add_argument("--max-sym-per-frame", type=int, default=3, help="transducer greedy / beam")
    p.add_argument("--hlg-dir", help="default graph dir of bare hlg_* methods (HLG.fst, words.txt, tokens.txt)")
    p.add_argument("--lg-dir", help="default graph dir of a bare fst_beam (LG.fst over the model's tokens)")
    p.add_argument("--graph-scale", type=float, default=1.0, help="fst_beam: weight of the graph's LM costs")
    p.add_argument("--fst-beam", type=int, default=16, help="fst_beam: hypotheses kept per frame")
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

    from avsr.e2e.decode import SearchOptions
    from avsr.e2e.decode_jobs import DecodeJob, run_decode_jobs
    from avsr.train.distributed import resolve_device
    from avsr.utils.errors import AvsrInputError

    if args.extra_sets and not args.extra_methods:
        raise AvsrInputError(None, "--extra-sets needs --extra-methods")
    if (args.drop_video_sets or args.drop_audio_sets) and not args.drop_methods:
        raise AvsrInputError(None, "--drop-video-sets / --drop-audio-sets need --drop-methods")
    torch.set_num_threads(args.num_threads)
    jobs = [DecodeJob(args.sets, args.methods)] if args.methods else []
    if args.extra_sets:
        jobs.append(DecodeJob(args.extra_sets, args.extra_methods))
    for drop, sets in (("video", args.drop_video_sets), ("audio", args.drop_audio_sets)):
        if sets:
            jobs.append(DecodeJob(sets, args.drop_methods, drop))
    if not jobs:
        raise AvsrInputError(None, "nothing to decode: give --methods (and/or --drop-*-sets with --drop-methods)")
    opts = SearchOptions(beam=args.beam, ctc_weight=args.ctc_weight, transducer_beam=args.transducer_beam,
                         max_sym_per_frame=args.max_sym_per_frame, hlg_dir=args.hlg_dir, lg_dir=args.lg_dir,
                         graph_scale=args.graph_scale, fst_beam=args.fst_beam, hlg_beam=args.hlg_beam, acoustic_scale=args.acoustic_scale,
                         nbest=args.nbest, nbest_attention_weight=args.nbest_attention_weight)
    run_decode_jobs(args.exp_dir, args.data, args.corpus, jobs, args.epoch, args.avg, opts,
                    str(resolve_device(args.device)), ali_dir=args.ali_dir)


if __name__ == "__main__":
    run_cli(main)
