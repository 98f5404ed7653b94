#!/usr/bin/env python3
"""Stage 0 of egs/yesno: index a folder of wavs whose file name is the transcript.

``yes_no_yes.wav`` -> "yes no yes"; with --word-map 0=no,1=yes, ``0_1_0.wav`` -> "no yes no"
(the Kaldi/icefall yesno convention). Any sample rate in (8 kHz telephone audio included):
16 kHz mono PCM16 copies go to --out-audio-dir; the folder is only read. Speaker-free: each
utterance is its own speaker; deterministic train/dev/test split by utterance.

Writes <index-dir>/{train,dev,test}.jsonl, lexicon.txt (espeak-ng phonemes, or graphemes),
lm_text.txt (training transcripts), bad_cuts.txt (skipped files and why) and prep.json.

Example:
  egs/yesno/local/prepare_folder.py --wav-dir waves_yesno --word-map 0=no,1=yes \\
      --out-audio-dir data/wav --index-dir data/local/yesno
"""
import argparse
from pathlib import Path

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this checkout's avsr, whatever the venv has

from avsr.corpora.yesno.prepare import LEXICON_SOURCES, parse_word_map, prepare_folder
from avsr.utils.cli import run_cli
from avsr.utils.logging import setup_logging


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wav-dir", type=Path, required=True, help="folder of <word>_<word>_....wav files (searched recursively, read only)")
    p.add_argument("--out-audio-dir", type=Path, required=True, help="where the 16 kHz wavs go")
    p.add_argument("--index-dir", type=Path, required=True, help="where the index, lexicon.txt and lm_text.txt go")
    p.add_argument("--word-map", default="", help="file-name token -> word, e.g. 0=no,1=yes (default: tokens are the words)")
    p.add_argument("--test-fraction", type=float, default=0.5, help="share of clips for test (default: %(default)s)")
    p.add_argument("--dev-fraction", type=float, default=0.1, help="share of the remaining clips for dev (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="split shuffle seed (default: %(default)s)")
    p.add_argument("--lexicon-source", choices=LEXICON_SOURCES, default="espeak",
                   help="espeak: espeak-ng phonemes of each word; grapheme: letters (default: %(default)s)")
    p.add_argument("--log-file", type=Path, help="also log to this file")
    args = p.parse_args()
    if not (0 <= args.test_fraction < 1 and 0 <= args.dev_fraction < 1):
        p.error("--test-fraction and --dev-fraction must be in [0, 1)")
    setup_logging(args.log_file)
    prepare_folder(args.wav_dir, args.out_audio_dir, args.index_dir, parse_word_map(args.word_map),
                   args.test_fraction, args.dev_fraction, args.seed, args.lexicon_source)


if __name__ == "__main__":
    run_cli(main)
