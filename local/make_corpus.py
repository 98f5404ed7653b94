#!/usr/bin/env python3
"""Stage 0 of the default recipe: generate the embedded synthetic GRID corpus.

Audio from espeak-ng voices, face video rendered from the phoneme timings; splits are by
speaker, and (with unseen_voices) dev/test voices have a voice variant no training voice has;
the clean test set test_unseenaccent (unseen_accent_speakers) also has accents training never heard. Noise talkers (audio only) are made for the test babble of stage 2. Utterances
already complete are skipped, so an interrupted run can be resumed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from avsr.corpora.synthetic.corpus import generate_corpus  # noqa: E402
from avsr.corpora.synthetic.config import load_corpus_config, load_preset  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=["tiny", "default", "full"], default="default",
                        help="size preset conf/corpus_<preset>.yaml (default: %(default)s)")
    source.add_argument("--config", type=Path, help="a corpus YAML config instead of a preset")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed: same seed, same bytes (default: %(default)s)")
    parser.add_argument("--nj", type=int, default=2, help="worker processes, one per core (default: %(default)s)")
    parser.add_argument("--corpus-dir", type=Path, default=Path("data/corpus"),
                        help="where <spk>/<utt>.{wav,mp4,json} go (default: %(default)s)")
    parser.add_argument("--index-dir", type=Path, default=Path("data/local/synthetic_grid"),
                        help="where {train,dev,test,test_unseenaccent}.jsonl, lexicon_espeak.txt, speakers.json, "
                             "corpus_stats.json go (default: %(default)s)")
    parser.add_argument("--log-file", type=Path, help="also log to this file")
    args = parser.parse_args()
    if args.nj < 1:
        parser.error("--nj must be >= 1")

    setup_logging(args.log_file)
    config = load_corpus_config(args.config) if args.config else load_preset(args.preset)
    start = time.time()
    records = generate_corpus(args.corpus_dir, config, args.seed, args.nj, args.index_dir)
    counts = ", ".join(f"{split} {len(recs)}" for split, recs in records.items())
    noise = args.index_dir / "noise_talkers.jsonl"
    extra = sum(1 for _ in noise.open()) if noise.is_file() else 0
    print(f"synthetic GRID: {counts} utterances (+ {extra} of noise talkers, audio only) in "
          f"{time.time() - start:.1f} s -> {args.index_dir}")


if __name__ == "__main__":
    run_cli(main)
