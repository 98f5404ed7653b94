#!/usr/bin/env python3
"""Stage 0 of egs/grid: index the real GRID corpus and extract its audio, without touching it.

Writes <out-audio-dir>/<speaker>/<utt>.wav (16 kHz mono PCM16, from each .mpg's audio track),
<index-dir>/{train,dev,test}.jsonl, the split record <index-dir>/split.json + split_utts.tsv
and <index-dir>/bad_cuts.txt (clips that failed validation, skipped).

Splits (--split): "unseen" = LipNet's unseen speakers (test s1 s2 s20 s22; dev s3 s4 is ours);
"all_test" = every clip test (decoding a folder with trained models); "overlapped" = LipNet's overlapped speakers (255 random sentences of every speaker test, the
rest train; --dev-per-speaker more random ones per speaker as dev, ours; sizes derived from
each speaker's clip count when not given: 75 test / 25 dev / 300 train of a 400-clip speaker),
deterministic in --seed. With --utt, prepares and checks a single clip, prints
its record as JSON and fails with a one-line error if the clip is bad.

Example:
  egs/grid/local/prepare_grid.py --corpus-dir /data/grid --out-audio-dir data/grid/wav \\
      --index-dir data/local/grid --nj 2
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this checkout's avsr, whatever the venv has

from avsr.corpora.grid.prepare import (
    DEFAULT_DEV_SPEAKERS,
    DEFAULT_TEST_SPEAKERS,
    ensure_outside_corpus,
    find_grid_clips,
    prepare_clip,
    prepare_grid,
    select_clip,
)
from avsr.corpora.grid.splits import OVERLAPPED_DEV_PER_SPEAKER, OVERLAPPED_TEST_PER_SPEAKER, PROTOCOLS, SplitConfig
from avsr.data.records import record_to_dict
from avsr.utils.cli import run_cli
from avsr.utils.logging import setup_logging


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-dir", type=Path, required=True,
                        help="unpacked GRID corpus: <speaker>/<utt>.mpg (or <speaker>/video/mpg_6000/) and alignments/<speaker>/<utt>.align (or <speaker>/align/); read only")
    parser.add_argument("--out-audio-dir", type=Path, required=True, help="where the extracted wavs go (outside the corpus)")
    parser.add_argument("--index-dir", type=Path, default=None,
                        help="where {train,dev,test}.jsonl and bad_cuts.txt go (required unless --utt)")
    parser.add_argument("--dev-speakers", nargs="*", default=list(DEFAULT_DEV_SPEAKERS),
                        help="speakers held out for development (default: %(default)s)")
    parser.add_argument("--test-speakers", nargs="*", default=list(DEFAULT_TEST_SPEAKERS),
                        help="unseen test speakers (default: %(default)s, the LipNet unseen-speaker protocol)")
    parser.add_argument("--split", choices=PROTOCOLS, default="unseen", help="evaluation protocol (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1234, help="overlapped split: random draw seed (default: %(default)s)")
    parser.add_argument("--test-per-speaker", type=int, default=None,
                        help="overlapped split: test sentences per speaker (default: derived from each speaker's clip "
                             f"count: LipNet's {OVERLAPPED_TEST_PER_SPEAKER} for 1000 clips, 3/16 of a smaller folder, e.g. 75 of 400)")
    parser.add_argument("--dev-per-speaker", type=int, default=None,
                        help="overlapped split: dev sentences per speaker (default: {OVERLAPPED_DEV_PER_SPEAKER} for 1000 clips, "
                             "else 1/16 of the clips, at most {OVERLAPPED_DEV_PER_SPEAKER})")
    parser.add_argument("--utt", default=None,
                        help="prepare only this clip (<speaker>/<utt>); a bad clip is an error instead of a bad_cuts.txt line")
    parser.add_argument("--nj", type=int, default=1, help="parallel processes (default: %(default)s)")
    parser.add_argument("--log-file", type=Path, default=None, help="also log to this file")
    args = parser.parse_args()
    if args.utt is None and args.index_dir is None:
        parser.error("--index-dir is required (unless --utt is given)")
    if args.split == "unseen" and set(args.dev_speakers) & set(args.test_speakers):
        parser.error(f"speakers in both --dev-speakers and --test-speakers: {sorted(set(args.dev_speakers) & set(args.test_speakers))}")
    if args.nj < 1:
        parser.error("--nj must be >= 1")
    if any(n is not None and n < 0 for n in (args.test_per_speaker, args.dev_per_speaker)):
        parser.error("--test-per-speaker and --dev-per-speaker must be >= 0")
    return args


def main() -> None:
    args = parse_args()
    setup_logging(args.log_file)
    if args.utt is not None:
        ensure_outside_corpus(args.corpus_dir, args.out_audio_dir, "the audio output directory")
        clip = select_clip(find_grid_clips(args.corpus_dir), args.utt, args.corpus_dir)
        record = prepare_clip(clip, args.out_audio_dir)
        print(json.dumps(record_to_dict(record), ensure_ascii=False))
        return
    split = SplitConfig(args.split, args.seed, tuple(args.dev_speakers), tuple(args.test_speakers),
                        args.test_per_speaker, args.dev_per_speaker)
    prepare_grid(args.corpus_dir, args.out_audio_dir, args.index_dir, num_jobs=args.nj, split=split)


if __name__ == "__main__":
    run_cli(main)
