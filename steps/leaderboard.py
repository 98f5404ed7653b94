#!/usr/bin/env python3
"""Stage 14: the leaderboard. Reads every score file under the experiment directory
(GMM/hybrid ``*/score_<set>/summary.json``, E2E ``*/decode_epoch*_avg*/<set>/<method>/score.json``)
and writes RESULTS.md (WER / PER / frame-PER tables with 95 % bootstrap intervals, AV vs A
significance, claims, provenance) plus PNG plots; prints the WER table.

  steps/leaderboard.py --exp exp --out RESULTS.md --plots-dir exp/plots --command "./run.sh" --preset tiny --seed 0
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.leaderboard import LeaderboardOptions, build_leaderboard  # noqa: E402
from avsr.leaderboard.significance import DEFAULT_E2E_METHODS  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", default="exp", help="experiment directory to scan")
    p.add_argument("--out", default="RESULTS.md", help="markdown page to write")
    p.add_argument("--plots-dir", help="PNG directory (default EXP/plots)")
    p.add_argument("--set", dest="split", default="test", help="test set; its noisy copies <set>_<noise>_snr<N> are the other columns")
    p.add_argument("--lexicon", default="data/lang_espeak/lexicon.txt", help="maps E2E words to phones for their PER")
    p.add_argument("--command", help="the command that produced the run (shown in the header)")
    p.add_argument("--date", help="date shown in the header (default: now, UTC)")
    p.add_argument("--preset", help="corpus preset, shown in the header")
    p.add_argument("--seed", help="seed, shown in the header")
    p.add_argument("--ctc-att-method", default=DEFAULT_E2E_METHODS["CTC+attention"],
                   help="CTC+attention decoding method used in plots and claims")
    p.add_argument("--transducer-method", default=DEFAULT_E2E_METHODS["transducer"],
                   help="transducer decoding method used in plots and claims")
    p.add_argument("--bootstrap-samples", type=int, default=1000)
    p.add_argument("--sync-report", help="the sync QA stage's report (data/video/sync_report.json): a header line")
    p.add_argument("--log-file")
    args = p.parse_args()
    setup_logging(args.log_file)
    board = build_leaderboard(LeaderboardOptions(
        exp=args.exp, out=args.out, plots_dir=args.plots_dir, split=args.split, lexicon=args.lexicon,
        command=args.command, date=args.date, preset=args.preset, seed=args.seed,
        e2e_methods={"CTC+attention": args.ctc_att_method, "transducer": args.transducer_method},
        bootstrap_samples=args.bootstrap_samples, sync_report=args.sync_report))
    print(f"WER (%) [95% bootstrap interval], {board.num_rows} rows; full page: {args.out}\n")
    print(board.wer_table)


if __name__ == "__main__":
    run_cli(main)
