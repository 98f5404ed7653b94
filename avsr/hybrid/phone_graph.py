"""Phone-level decoding graph for PER: a "lexicon" whose words are the phones themselves
(phone ids kept from the model's lang, so the model's H applies unchanged), a phone-bigram
LM trained on the training transcripts expanded to phones, and HCLG from the GMM system's
model (mono: kaldi-hmm-gmm H; tri: our tree H). Decoding through it gives phone strings
without any word constraint: the PER the seed paper's phone-level decoding reports."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence, Union

from avsr.lang.lexicon import Lexicon, LexiconEntry, read_lexicon
from avsr.lang.lm import make_lm
from avsr.lang.prepare import LangOptions, prepare_lang
from avsr.score.wer import words_to_phones
from avsr.utils.io import write_text_atomic

PathLike = Union[str, Path]


def phone_transcripts(texts: Mapping[str, Sequence[str]], lexicon_file: PathLike) -> dict[str, list[str]]:
    """Word transcripts -> phone transcripts (each word's first pronunciation)."""
    return words_to_phones(texts, read_lexicon(lexicon_file), str(lexicon_file))


def make_phone_graph(
    lang_dir: PathLike, model_dir: PathLike, train_texts: Mapping[str, Sequence[str]], out_dir: PathLike, order: int = 2, force: bool = False
) -> Path:
    """Build the graph in ``out_dir`` (its phone lang and LM next to it, in ``<out_dir>_lang``
    and ``<out_dir>_lm``); returns ``out_dir``. Parts whose inputs are unchanged are reused."""
    from avsr.hmm.tri_graph import make_model_graph

    lang_dir, out_dir = Path(lang_dir), Path(out_dir)
    lexicon = read_lexicon(lang_dir / "lexicon.txt")
    silence = {p for p in (lang_dir / "phones" / "silence.txt").read_text().split()}
    phones = sorted({p for e in lexicon.entries for p in e.phones} - silence)
    phone_lang = Path(f"{out_dir}_lang")
    if force or not (phone_lang / "L_disambig.fst").is_file():
        prepare_lang(Lexicon([LexiconEntry(p, (p,)) for p in phones]), phone_lang, LangOptions(unk_word=""), phone_table=lang_dir / "phones.txt")
    text = Path(f"{out_dir}_lm") / "train_phones.txt"
    trans = phone_transcripts(train_texts, lang_dir / "lexicon.txt")
    write_text_atomic(text, "".join(" ".join(p) + "\n" for p in trans.values()))
    lm = make_lm(Path(f"{out_dir}_lm"), phone_lang, kind="ngram", text=text, order=order, force=force)
    make_model_graph(phone_lang, lm, model_dir, out_dir, force=force)
    return out_dir
