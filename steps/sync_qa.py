#!/usr/bin/env python3
"""Stage 4 (data QA): audio-visual synchrony of every clip.

Estimates each clean clip's A/V offset (video frames, + = the video lags the audio) on
<feature-dir>/<corpus>_cuts_{train,dev,test}.jsonl.gz, flags clips beyond --tolerance frames
whose estimate is confident enough, and applies --policy to every cut set of the corpus
(noisy copies follow their clean clip):
  keep   report only (the manifests stay as stage 3 wrote them)
  drop   remove flagged clips from every set
  shift  re-cut the video of flagged clips by the estimated offset (cut field `video_shift`,
         applied by every loader through avsr.sync.shift.load_video_array)
Writes <video-dir>/sync_report.json and <video-dir>/sync_report.png. Idempotent: the stage-3
manifests are saved once under <video-dir>/sync_orig/ and every run starts from them.

Method `learned` without --model first trains a small sync model on the train split
(qa.train_steps steps of conf/sync.yaml) into <video-dir>/sync_model/.

  steps/sync_qa.py --feature-dir data/fbank --video-dir data/video --corpus synthetic_grid
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.sync.qa import POLICIES, QaPolicy  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402

CONF = Path(__file__).resolve().parents[1] / "conf" / "sync.yaml"
METHODS = ("learned", "xcorr")  # avsr.sync.scoring.METHODS (imported lazily: --help stays fast without torch)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feature-dir", default="data/fbank", type=Path, help="stage-3 cut sets (rewritten by drop/shift)")
    p.add_argument("--video-dir", default="data/video", type=Path, help="report, plot, saved originals, sync model")
    p.add_argument("--corpus", default="synthetic_grid")
    p.add_argument("--conf", default=CONF, type=Path)
    p.add_argument("--method", choices=METHODS, help="default: qa.method of the conf")
    p.add_argument("--model", type=Path, help="a trained sync model dir (steps/train_sync.py); method learned only")
    p.add_argument("--train-steps", type=int, help="steps of the model trained here without --model (default: qa.train_steps)")
    p.add_argument("--policy", choices=POLICIES, help="default: qa.policy of the conf")
    p.add_argument("--tolerance", type=int, help="frames; |offset| > tolerance is flagged (default: qa.tolerance)")
    p.add_argument("--min-confidence", type=float, help="default: qa.min_confidence[method] of the conf")
    p.add_argument("--report", type=Path, help="default: <video-dir>/sync_report.json")
    p.add_argument("--plot", type=Path, help="default: <video-dir>/sync_report.png")
    p.add_argument("--num-threads", type=int, help="torch threads (default: train.num_threads of the conf, 1)")
    p.add_argument("--log-file", type=Path)
    args = p.parse_args()
    setup_logging(args.log_file)
    from avsr.sync.pipeline import SyncSettings, run_sync_qa

    settings = SyncSettings.load(args.conf)
    method = args.method or settings.qa.get("method", "learned")
    policy = QaPolicy(args.policy or settings.qa.get("policy", "keep"),
                      int(args.tolerance if args.tolerance is not None else settings.qa.get("tolerance", 1)),
                      args.min_confidence if args.min_confidence is not None else settings.min_confidence(method))
    report = run_sync_qa(args.feature_dir, args.corpus, args.video_dir, settings, method, policy, args.model,
                         args.train_steps, args.report, args.plot or args.video_dir / "sync_report.png",
                         num_threads=args.num_threads)
    print(f"sync QA: {report['num_clips']} clips, {report['num_flagged']} flagged, {report['num_corrected']} shifted, "
          f"{report['num_dropped']} dropped -> {args.report or args.video_dir / 'sync_report.json'}")


if __name__ == "__main__":
    run_cli(main)
