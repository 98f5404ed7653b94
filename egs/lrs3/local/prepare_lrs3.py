#!/usr/bin/env python3
"""Stage 0 of egs/lrs3: index a user's LRS3 download and extract its audio, without touching it.

Writes <media-dir>/wav/<subset>/<video_id>/<clip>.wav (16 kHz mono PCM16 from each mp4's audio
track), long pretrain clips cut at word boundaries into <= --max-seconds segments
(<media-dir>/{wav,video}/pretrain/<video_id>/<clip>_<k>.{wav,mp4}), and in <index-dir>:
{train,dev,test}.jsonl (speaker-disjoint: dev = whole trainval video ids chosen by --seed),
bad_cuts.txt (clips that failed a check, skipped), split.json and lexicon.txt (CMUdict
pronunciations of the training words; espeak-ng, mapped to ARPAbet, for words CMUdict lacks).
With --check, only reports what is present (and what to fetch) and exits.

Example:
  egs/lrs3/local/prepare_lrs3.py --corpus-dir /data/lrs3 --media-dir data/lrs3 \\
      --index-dir data/local/lrs3 --nj 2
"""
from __future__ import annotations

import argparse
from pathlib import Path

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this checkout's avsr, whatever the venv has

from avsr.corpora.lrs3.prepare import DEFAULT_DEV_SIZE, DEFAULT_MAX_SECONDS, SUBSETS, check_download, prepare_lrs3
from avsr.utils.cli import run_cli
from avsr.utils.logging import setup_logging


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-dir", type=Path, required=True,
                        help="unpacked LRS3: {pretrain,trainval,test}/<video_id>/<clip>.{mp4,txt}; read only")
    parser.add_argument("--media-dir", type=Path, default=None, help="where extracted wavs and cut segments go (outside the corpus)")
    parser.add_argument("--index-dir", type=Path, default=None, help="where {train,dev,test}.jsonl, bad_cuts.txt, split.json, lexicon.txt go")
    parser.add_argument("--subsets", nargs="+", choices=SUBSETS, default=list(SUBSETS),
                        help="subsets to use (default: %(default)s; leave out pretrain for a ~30 h training set)")
    parser.add_argument("--dev-size", type=int, default=DEFAULT_DEV_SIZE,
                        help="hold out whole trainval speakers until at least this many clips (default: %(default)s)")
    parser.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS,
                        help="cut pretrain clips longer than this at word boundaries (default: %(default)s; 0 = never cut)")
    parser.add_argument("--seed", type=int, default=1234, help="choice of dev speakers (default: %(default)s)")
    parser.add_argument("--no-lexicon", action="store_true", help="do not write lexicon.txt")
    parser.add_argument("--check", action="store_true", help="only report the clips present per subset (or what to fetch)")
    parser.add_argument("--nj", type=int, default=1, help="parallel processes (default: %(default)s)")
    parser.add_argument("--log-file", type=Path, default=None, help="also log to this file")
    args = parser.parse_args()
    if not args.check and (args.media_dir is None or args.index_dir is None):
        parser.error("--media-dir and --index-dir are required (unless --check)")
    if args.nj < 1 or args.dev_size < 0 or args.max_seconds < 0:
        parser.error("--nj must be >= 1, --dev-size and --max-seconds >= 0")
    return args


def main() -> None:
    args = parse_args()
    setup_logging(args.log_file)
    if args.check:
        counts = check_download(args.corpus_dir, args.subsets)
        print(f"{args.corpus_dir}: " + ", ".join(f"{s} {n} clips" for s, n in counts.items()))
        return
    prepare_lrs3(
        args.corpus_dir, args.media_dir, args.index_dir, subsets=args.subsets, dev_size=args.dev_size, seed=args.seed,
        max_seconds=args.max_seconds or None, num_jobs=args.nj, lexicon=not args.no_lexicon,
    )


if __name__ == "__main__":
    run_cli(main)
