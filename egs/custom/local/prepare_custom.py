#!/usr/bin/env python3
"""Stage 0 of egs/custom: your own corpus, given as lhotse manifests.

Reads <manifests>/<corpus>_{recordings,supervisions}_{train,test}.jsonl.gz (and _dev, optional:
without it a deterministic ~10 % of train becomes dev, by speaker when train has 3+ speakers,
else by utterance). Every supervision becomes one 16 kHz mono PCM16 wav under --out-audio-dir
(any input rate and format lhotse reads; resampled once here) and one UttRecord in
<index-dir>/{train,dev,test}.jsonl. Words are lower-cased in transcripts, lexicon and LM text;
a word missing from the lexicon stops everything with one error listing them, before any output
is written. --modality video|av keeps each recording's video file (lhotse Recording.video).

Also writes <index-dir>/lexicon.txt and lm_text.txt (normalised copies), bad_cuts.txt
(utterances skipped: empty transcript, unreadable audio) and prep.json.

Example:
  egs/custom/local/prepare_custom.py --manifests my_manifests --lexicon lexicon.txt \\
      --lm-text lm.txt --out-audio-dir data/wav --index-dir data/local/custom
"""
import argparse
from pathlib import Path

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this checkout's avsr, whatever the venv has

from avsr.corpora.custom.prepare import DEV_FRACTION, MODALITIES, prepare_custom
from avsr.utils.cli import run_cli
from avsr.utils.logging import setup_logging


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifests", type=Path, required=True, help="directory of lhotse recordings/supervisions manifests")
    p.add_argument("--lexicon", type=Path, required=True, help="word lexicon, one 'WORD p1 p2 ...' per line (any case)")
    p.add_argument("--lm-text", type=Path, help="LM training text, one sentence a line (default: the training transcripts)")
    p.add_argument("--out-audio-dir", type=Path, required=True, help="where the 16 kHz wavs go")
    p.add_argument("--index-dir", type=Path, required=True, help="where {train,dev,test}.jsonl, lexicon.txt, lm_text.txt go")
    p.add_argument("--modality", choices=MODALITIES, default="audio", help="audio: ignore video; video|av: every utterance needs its video (default: %(default)s)")
    p.add_argument("--corpus-prefix", default=None, help="the <corpus> part of the manifest names (default: the only one present)")
    p.add_argument("--dev-fraction", type=float, default=DEV_FRACTION, help="share carved from train when there is no dev split (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="dev carving seed (default: %(default)s)")
    p.add_argument("--nj", type=int, default=1, help="parallel processes for the audio conversion (default: %(default)s)")
    p.add_argument("--log-file", type=Path, help="also log to this file")
    args = p.parse_args()
    if not 0 < args.dev_fraction < 1:
        p.error("--dev-fraction must be in (0, 1)")
    setup_logging(args.log_file)
    prepare_custom(args.manifests, args.lexicon, args.out_audio_dir, args.index_dir, args.lm_text, args.modality,
                   args.corpus_prefix, args.dev_fraction, args.seed, args.nj)


if __name__ == "__main__":
    run_cli(main)
