#!/usr/bin/env python3
"""Estimate the A/V offset of every clip of a cut set (optionally after shifting its video by
a known offset) and print how well the known offset was recovered.

  steps/check_sync.py --cuts data/fbank/synthetic_grid_cuts_test.jsonl.gz --out sync_test.json \
      --inject-offset 3 --method learned --model exp/sync_multiway

Writes {"clips": [{"cut_id", "offset_frames", "offset_ms", "confidence", "score"}, ...],
"mean_abs_error_frames", "within_tolerance", ...}; prints the mean |error| and the share of
clips within ±--tolerance frames of K. Offsets in video frames, + = the video lags the audio;
--inject-offset K delays the video by K frames (K < 0: advances it) before estimating.
--write-cuts OUT also writes the cut set with the injected shift stored on every cut (field
video_shift, applied by the loaders), and with --correct minus the estimated offset of every
clip estimated beyond --tolerance: decode OUT to measure an AV system at that offset.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.errors import AvsrInputError  # noqa: E402
from avsr.utils.io import write_json_atomic  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402

CONF = Path(__file__).resolve().parents[1] / "conf" / "sync.yaml"
METHODS = ("learned", "xcorr")  # avsr.sync.scoring.METHODS (not imported here: torch loads only when needed)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cuts", required=True, type=Path, help="a stage-3 cut set (mouth_roi + mfcc arrays)")
    p.add_argument("--out", required=True, type=Path, help="report JSON")
    p.add_argument("--inject-offset", type=int, default=0, help="delay the video by K frames first (default 0)")
    p.add_argument("--method", choices=METHODS, default="learned")
    p.add_argument("--model", type=Path, help="sync model dir (steps/train_sync.py); needed by --method learned")
    p.add_argument("--conf", default=CONF, type=Path)
    p.add_argument("--tolerance", type=int, default=1, help="frames (default 1)")
    p.add_argument("--write-cuts", type=Path, help="also write the cut set with the injected (and --correct) shifts")
    p.add_argument("--correct", action="store_true", help="with --write-cuts: undo the estimated offset beyond --tolerance")
    p.add_argument("--log-file", type=Path)
    args = p.parse_args()
    setup_logging(args.log_file)
    if args.method == "learned" and args.model is None:
        raise AvsrInputError(None, "--method learned needs --model DIR (train one with steps/train_sync.py)")
    if args.correct and args.write_cuts is None:
        raise AvsrInputError(None, "--correct needs --write-cuts OUT")
    from lhotse import CutSet

    from avsr.data.manifests import load_cuts, save_cuts
    from avsr.sync.pipeline import SyncSettings, check_injected, estimates_by_id
    from avsr.sync.shift import add_video_shift

    settings = SyncSettings.load(args.conf)
    model = None
    if args.method == "learned":
        from avsr.sync.train import load_sync_model

        model, _ = load_sync_model(args.model)
    cuts = load_cuts(args.cuts)
    if not len(cuts):
        raise AvsrInputError(args.cuts, "no cuts")
    report = check_injected(cuts, args.method, settings, model, args.inject_offset, args.tolerance)
    report.update(cuts=str(args.cuts), model=str(args.model) if args.model else None)
    if args.write_cuts is not None:
        est = estimates_by_id(report["clips"])
        fix = {i: -d for i, d in est.items() if args.correct and abs(d) > args.tolerance}
        save_cuts(CutSet.from_cuts(add_video_shift(c, args.inject_offset + fix.get(c.id, 0)) for c in cuts), args.write_cuts)
        report.update(write_cuts=str(args.write_cuts), corrected=len(fix))
    write_json_atomic(args.out, report)
    print(f"{args.method}: inject {args.inject_offset:+d} frames, {report['num_clips']} clips: mean |error| "
          f"{report['mean_abs_error_frames']:.3f} frames, within ±{args.tolerance}: {100 * report['within_tolerance']:.1f}%")


if __name__ == "__main__":
    run_cli(main)
