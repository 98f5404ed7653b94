#!/usr/bin/env python3
"""Graph sizes and build times: {espeak, cmudict, grapheme, bpe (HLG only)} lexicons x {GRID grammar,
trigram on GRID training text} x {LG, HLG, HCLG (monophone)}. Prints a Markdown table.

  .venv/bin/python bench/bench_graphs.py [--text data/.../train_text.txt] [--workdir /tmp/bench_graphs]

Without --text, the trigram is trained on --num-sentences random GRID sentences (seed 0),
a stand-in for the embedded corpus' training transcripts.
"""
import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.corpora.grid.grammar import grid_slots, grid_vocabulary, sample_sentence  # noqa: E402
from avsr.lang.build import make_lexicon  # noqa: E402
from avsr.corpora.grid.espeak_lexicon import grid_espeak_lexicon  # noqa: E402
from avsr.lang.lexicon import write_lexicon  # noqa: E402
from avsr.lang.lm import make_lm  # noqa: E402
from avsr.lang.prepare import LangOptions, prepare_lang  # noqa: E402
from avsr.wfst.make_graph import make_graph  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", help="LM training text (default: random GRID sentences)")
    p.add_argument("--num-sentences", type=int, default=1000)
    p.add_argument("--espeak-lexicon", help="lexicon_espeak.txt (default: the deps.md table)")
    p.add_argument("--bpe-vocab", type=int, default=40, help="sentencepiece BPE vocabulary for the bpe rows")
    p.add_argument("--workdir", default="/tmp/bench_graphs")
    p.add_argument("--json", help="also write the rows as JSON here")
    args = p.parse_args()
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    text = Path(args.text) if args.text else work / "grid_text.txt"
    if not args.text:
        rng = random.Random(0)
        text.write_text("".join(" ".join(sample_sentence(rng)) + "\n" for _ in range(args.num_sentences)))
    words = grid_vocabulary()
    lexicons = {
        "espeak": make_lexicon("espeak", words, args.espeak_lexicon) if args.espeak_lexicon else grid_espeak_lexicon(),
        "cmudict": make_lexicon("cmudict", words),
        "grapheme": make_lexicon("grapheme", words),
    }
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(input=str(text), model_prefix=str(work / "bpe"), vocab_size=args.bpe_vocab, model_type="bpe",
                                   character_coverage=1.0, bos_id=-1, eos_id=-1, unk_id=0, minloglevel=2)
    lexicons["bpe"] = make_lexicon("bpe", words, work / "bpe.model")
    lang_options = {"bpe": LangOptions(sil_phone="", unk_phone="<unk>")}
    rows = []
    for lex_name, lexicon in lexicons.items():
        t0 = time.time()
        lang = prepare_lang(lexicon, work / f"lang_{lex_name}", lang_options.get(lex_name, LangOptions()))
        lang_seconds = time.time() - t0
        write_lexicon(lexicon, work / f"lexicon_{lex_name}.txt")
        lms = {}
        for lm_name, kind in (("grid", "grammar"), ("tg", "ngram")):
            t0 = time.time()
            lms[lm_name] = make_lm(work / f"lm_{lex_name}_{lm_name}", lang, kind=kind, text=text, order=3,
                                   slots=grid_slots())
            lm_seconds = time.time() - t0
            for graph_kind in ("lg", "hlg", "hclg") if lex_name != "bpe" else ("hlg",):
                info = make_graph(graph_kind, lang, lms[lm_name], work / f"{graph_kind}_{lex_name}_{lm_name}")
                rows.append({
                    "lexicon": lex_name, "lm": lm_name, "graph": graph_kind.upper(),
                    "lang_s": round(lang_seconds, 3), "lm_s": round(lm_seconds, 3),
                    "G": info["sizes"]["G"], "LG": info["sizes"]["LG"], "graph_size": info["sizes"]["graph"],
                    "build_s": info["seconds"]["total"],
                })
    print("| lexicon | LM | graph | G states/arcs | LG states/arcs | graph states/arcs | graph build s | lang s | LM s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['lexicon']} | {r['lm']} | {r['graph']} | {r['G']['states']}/{r['G']['arcs']} | {r['LG']['states']}/{r['LG']['arcs']} | "
              f"{r['graph_size']['states']}/{r['graph_size']['arcs']} | {r['build_s']:.3f} | {r['lang_s']:.3f} | {r['lm_s']:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
