#!/usr/bin/env python3
"""Train the shared sentencepiece BPE model of the E2E systems (run.sh stage 10) from a text file.

Every E2E system and the BPE lang/HLG use this one model, so it is trained once, before the
models that share it are trained in parallel. Skipped when the model exists.

  python steps/train_bpe.py --text data/lm/train_text.txt --conf conf/ctc_attention.yaml \\
      --out data/lang_bpe/bpe.model
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.config import load_yaml  # noqa: E402
from avsr.utils.errors import AvsrInputError  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", type=Path, required=True, help="training transcripts, one sentence per line")
    p.add_argument("--conf", type=Path, required=True, help="E2E config whose tokens.bpe_vocab_size is used")
    p.add_argument("--out", type=Path, required=True, help="sentencepiece model to write")
    p.add_argument("--grid-words", action="store_true",
                   help="also cover all 51 GRID words (a GRID corpus: test sentences may use words training did not)")
    p.add_argument("--log-file")
    args = p.parse_args()
    setup_logging(args.log_file)
    if args.out.is_file():
        logging.info("%s exists: skipped", args.out)
        return
    if not args.text.is_file():
        raise AvsrInputError(args.text, "training text not found: run stage 5 first")
    from avsr.corpora.grid.grammar import grid_vocabulary
    from avsr.e2e.tokens import train_bpe

    vocab = int(load_yaml(args.conf).get("tokens", {}).get("bpe_vocab_size", 64))
    extra = grid_vocabulary() if args.grid_words else ()
    train_bpe(args.text.read_text(encoding="utf-8").splitlines(), args.out, vocab, extra_words=extra)
    logging.info("wrote %s (vocabulary <= %d)", args.out, vocab)


if __name__ == "__main__":
    run_cli(main)
