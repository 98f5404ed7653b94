#!/usr/bin/env python3
"""Score hypotheses against references (Kaldi ``text`` files): WER, or PER with --lexicon
(words mapped to phones with their first pronunciation) or --per for phone transcripts.
Prints ``%WER 12.34 [ 123 / 1000, 10 ins, 20 del, 93 sub ]``; with --out-dir also writes
that line to wer (or per) and per-utterance alignments to per_utt.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.score.wer import compute_error_stats, format_alignments, read_text, words_to_phones  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.io import write_text_atomic  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref", required=True)
    p.add_argument("--hyp", required=True)
    p.add_argument("--lexicon", help="score PER: map both sides' words to phones with this lexicon.txt")
    p.add_argument("--per", action="store_true", help="transcripts are already phones: label the result PER")
    p.add_argument("--out-dir", help="write the summary line and per_utt alignments here")
    args = p.parse_args()
    refs, hyps = read_text(args.ref), read_text(args.hyp)
    metric = "PER" if (args.per or args.lexicon) else "WER"
    if args.lexicon:
        from avsr.lang.lexicon import read_lexicon

        lexicon = read_lexicon(args.lexicon)
        refs = words_to_phones(refs, lexicon, args.lexicon)
        hyps = words_to_phones(hyps, lexicon, args.lexicon)
    stats = compute_error_stats(refs, hyps)
    line = stats.kaldi_line(metric)
    print(line)
    if stats.missing_hyps:
        print(f"warning: {len(stats.missing_hyps)} reference utterance(s) have no hypothesis (scored as empty)", file=sys.stderr)
    if args.out_dir:
        write_text_atomic(Path(args.out_dir) / metric.lower(), line + "\n")
        write_text_atomic(Path(args.out_dir) / "per_utt", format_alignments(stats))


if __name__ == "__main__":
    run_cli(main)
