#!/usr/bin/env python3
"""Prepare data/lang_<name> (lexicon, phones.txt, words.txt, L.fst, L_disambig.fst, topo).

Examples:
  steps/prepare_lang.py --source cmudict data/lang_cmu                 # GRID words, stress removed
  steps/prepare_lang.py --source espeak --lexicon data/corpus/lexicon_espeak.txt data/lang_espeak
  steps/prepare_lang.py --source grapheme --words-from data/lm/text data/lang_char
  steps/prepare_lang.py --source espeak --lexicon new_lexicon.txt --phone-table exp/ctc/tokens.txt data/lang_new
  steps/prepare_lang.py --source bpe --lexicon data/lang_bpe/bpe.model --sil-phone "" --unk-phone "<unk>" \
      --phone-table exp/ctc_bpe/tokens.txt data/lang_bpe_units
  steps/prepare_lang.py --source file --lexicon data/lang_espeak/lexicon.txt --sil-phone "" --unk-word "" \
      --phone-table exp/ctc_att_a/tokens.txt data/lang_phone_units     # phone-unit CTC: HLG over its tokens
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.lang.build import SOURCES, build_lang, read_word_list  # noqa: E402
from avsr.lang.prepare import LangOptions  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", help="lang directory to write, e.g. data/lang_espeak")
    p.add_argument("--source", choices=SOURCES, required=True, help="where pronunciations come from")
    p.add_argument("--lexicon", help="lexicon file (espeak: lexicon_espeak.txt; file: a Kaldi lexicon.txt; bpe: the sentencepiece .model)")
    p.add_argument("--words-from", help="word list or text file whose words the lexicon must cover (default: the 51 GRID words for cmudict/grapheme)")
    p.add_argument("--keep-stress", action="store_true", help="cmudict: keep ARPAbet stress digits")
    p.add_argument("--sil-prob", type=float, default=0.5, help="optional-silence probability between words (0 = none)")
    p.add_argument("--sil-phone", default="SIL", help='optional-silence phone ("" = none, e.g. for BPE units)')
    p.add_argument("--unk-phone", default="SPN", help="pronunciation of <unk>")
    p.add_argument("--unk-word", default="<unk>", help='the unknown-word symbol ("" = none, and a lexicon\'s '
                   '<unk> entry is dropped: e.g. a phone-unit E2E lang over a GMM lang\'s lexicon.txt)')
    p.add_argument("--position-dependent", action="store_true", help="word-position-dependent phones (_B _I _E _S)")
    p.add_argument("--phone-table", help="existing phones.txt/tokens.txt whose ids must be kept (an existing model's)")
    p.add_argument("--num-nonsil-states", type=int, default=3)
    p.add_argument("--num-sil-states", type=int, default=5)
    p.add_argument("--force", action="store_true", help="rebuild even if the inputs did not change")
    args = p.parse_args()
    setup_logging()
    if args.words_from:
        words = read_word_list(args.words_from)
    elif args.source in ("cmudict", "grapheme", "bpe"):
        from avsr.corpora.grid.grammar import grid_vocabulary

        words = grid_vocabulary()
    else:
        words = []
    opts = LangOptions(
        sil_phone=args.sil_phone, unk_phone=args.unk_phone, unk_word=args.unk_word, sil_prob=args.sil_prob, position_dependent=args.position_dependent,
        num_nonsil_states=args.num_nonsil_states, num_sil_states=args.num_sil_states,
    )
    out, rebuilt = build_lang(args.out_dir, args.source, words, args.lexicon, args.keep_stress, opts, args.phone_table, args.force)
    print(f"{out}: {'prepared' if rebuilt else 'up to date (skipped)'}")


if __name__ == "__main__":
    run_cli(main)
