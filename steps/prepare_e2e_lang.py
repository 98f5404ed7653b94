#!/usr/bin/env python3
"""The E2E models' token set and its lang dir, made before any E2E model is trained, so the
learning curves (per-epoch dev WER through HLG / LG) and every model share one graph.

--unit phone: tokens = <blk> 0, <sos/eos> 1, then the non-silence phones of --lang (the GMM
lang dir, e.g. data/lang_espeak); the lang dir OUT has L over exactly those ids (no silence, no
<unk>) plus OUT/tokens.txt and OUT/tokens/lexicon.txt, so `steps/make_graph.py --model OUT`
builds HLG / LG for every phone-unit model trained with `--lang <the same lang>`.
--unit bpe: tokens = the pieces of --bpe-model (trained by steps/train_bpe.py), words from
--words-from (default: the GRID words).

  steps/prepare_e2e_lang.py --unit phone --lang data/lang_espeak data/lang_e2e_phone
  steps/make_lm.py --kind grid --lang data/lang_e2e_phone data/lm/grid_e2e_phone
  steps/make_graph.py --kind hlg --lang data/lang_e2e_phone --lm data/lm/grid_e2e_phone \\
      --model data/lang_e2e_phone --out exp/graphs/hlg_grid_phone
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", help="lang dir to write, e.g. data/lang_e2e_phone")
    p.add_argument("--unit", choices=("phone", "bpe"), default="phone")
    p.add_argument("--lang", help="phone: the lang dir whose non-silence phones are the units")
    p.add_argument("--bpe-model", help="bpe: the shared sentencepiece model")
    p.add_argument("--words-from", help="bpe: word list / text the lexicon must cover (default: GRID words)")
    args = p.parse_args()
    setup_logging()
    from avsr.e2e.tokens import BpeTokenizer, write_phone_tokens
    from avsr.lang.build import build_lang, read_word_list
    from avsr.lang.prepare import LangOptions
    from avsr.utils.errors import AvsrInputError
    from avsr.utils.io import write_text_atomic

    out = Path(args.out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        if args.unit == "phone":
            if not args.lang:
                raise AvsrInputError(None, "--unit phone needs --lang")
            tok = write_phone_tokens(args.lang, tmp)
            source, lexicon, words = "file", Path(args.lang) / "lexicon.txt", []
            opts = LangOptions(sil_phone="", unk_word="", unk_phone="")
        else:
            if not args.bpe_model:
                raise AvsrInputError(None, "--unit bpe needs --bpe-model")
            tok = BpeTokenizer(args.bpe_model)
            write_text_atomic(Path(tmp) / "tokens.txt", "".join(f"{s} {i}\n" for i, s in enumerate(tok.pieces())))
            source, lexicon = "bpe", Path(args.bpe_model)
            if args.words_from:
                words = read_word_list(args.words_from)
            else:
                from avsr.corpora.grid.grammar import grid_vocabulary

                words = grid_vocabulary()
            opts = LangOptions(sil_phone="", unk_phone="<unk>")
        tokens_txt = Path(tmp) / "tokens.txt"
        _, rebuilt = build_lang(out, source, words, lexicon, False, opts, tokens_txt)
        # after the (atomic) lang dir: the token table the graphs read through --model OUT
        write_text_atomic(out / "tokens.txt", tokens_txt.read_text(encoding="utf-8"))
        if args.unit == "phone":
            write_text_atomic(out / "tokens" / "lexicon.txt", (Path(tmp) / "tokens" / "lexicon.txt").read_text(encoding="utf-8"))
    print(f"{out}: {'prepared' if rebuilt else 'up to date (skipped)'} ({tok.vocab_size} tokens, unit {args.unit})")


if __name__ == "__main__":
    run_cli(main)
