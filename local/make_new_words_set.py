#!/usr/bin/env python3
"""A test set with words the models never saw: GRID sentences whose colour is a new word,
spoken and filmed by the corpus's unseen test speakers, plus what a lexicon/LM swap needs.

Writes, under --out-dir:
  test.jsonl          records of the new utterances (media under --media-dir), for stage 1
  lexicon_new.txt     the corpus lexicon + the new words as the *training* voices say them
  lm_text.txt         the training text, plus a copy with each colour replaced by a new one
  new_words.txt       the new words

Example:
  local/make_new_words_set.py --index-dir data/local/synthetic_grid --media-dir data/corpus_new_words \
      --out-dir data/local/new_words --words black brown gold --num-sentences 8
"""
import argparse
import random
from pathlib import Path

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's avsr, whatever the venv has

from avsr.corpora.synthetic.extra_sentences import generate_sentences, load_speakers, write_pronunciations
from avsr.corpora.grid.grammar import GRID_SLOTS, SLOT_NAMES, sample_sentence
from avsr.utils.cli import run_cli
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_text_atomic
from avsr.utils.logging import setup_logging

COLOR_SLOT = SLOT_NAMES.index("color")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index-dir", required=True, type=Path, help="stage-0 index of the corpus (speakers.json, lexicon, train.jsonl)")
    p.add_argument("--media-dir", required=True, type=Path)
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--words", nargs="+", default=["black", "brown", "gold"], help="new colour words")
    p.add_argument("--num-sentences", type=int, default=8, help="sentences per test speaker")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--nj", type=int, default=2)
    args = p.parse_args()
    setup_logging()
    known = set(GRID_SLOTS["color"]) | {w for slot in GRID_SLOTS.values() for w in slot}
    clash = sorted(set(args.words) & known)
    if clash:
        raise AvsrInputError(None, f"not new: {' '.join(clash)} already in the GRID vocabulary")
    if (args.out_dir / "test.jsonl").is_file():
        print(f"{args.out_dir}/test.jsonl exists, skipping")
        return

    rng = random.Random(args.seed)
    sentences = []
    for i in range(args.num_sentences):
        words = sample_sentence(rng)
        words[COLOR_SLOT] = args.words[i % len(args.words)]
        sentences.append(words)
    train_speakers = load_speakers(args.index_dir / "speakers.json", "train")
    test_speakers = load_speakers(args.index_dir / "speakers.json", "test")

    old_lexicon = (args.index_dir / "lexicon_espeak.txt").read_text(encoding="utf-8")
    write_pronunciations(args.out_dir / "new_words_lexicon.txt", args.words, train_speakers, slot=COLOR_SLOT)
    new_lines = (args.out_dir / "new_words_lexicon.txt").read_text(encoding="utf-8")
    write_text_atomic(args.out_dir / "lexicon_new.txt", "".join(sorted(set((old_lexicon + new_lines).splitlines(True)))))

    train_text = [line.split("\t")[0] for line in _train_sentences(args.index_dir)]
    swapped = []
    for line in train_text:
        words = line.split()
        words[COLOR_SLOT] = rng.choice(args.words)
        swapped.append(" ".join(words))
    write_text_atomic(args.out_dir / "lm_text.txt", "\n".join(train_text + swapped) + "\n")
    write_text_atomic(args.out_dir / "new_words.txt", "\n".join(args.words) + "\n")
    generate_sentences(args.media_dir, args.out_dir / "test.jsonl", test_speakers, sentences, args.seed, num_jobs=args.nj)


def _train_sentences(index_dir: Path) -> list[str]:
    from avsr.data.records import read_records

    return [r.text for r in read_records(index_dir / "train.jsonl")]


if __name__ == "__main__":
    run_cli(main)
