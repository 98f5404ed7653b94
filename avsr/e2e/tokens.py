"""Token tables for the E2E models: the output unit is a config choice (``tokens.unit``).

- ``phone`` (closed-vocabulary corpora such as GRID): the non-silence phones of a lang dir's
  lexicon; words come back through a lexicon graph (HLG = CTC topology ∘ L ∘ G, or an LG-
  constrained transducer search). BPE on a few hundred GRID sentences degenerates into letters.
- ``bpe`` (open vocabulary, e.g. LRS3): sentencepiece pieces.

Ids follow icefall's convention: 0 = ``<blk>`` (CTC / transducer blank), 1 = ``<sos/eos>``
(attention decoder start and end), then the units (BPE: 2 = ``<unk>``, then the pieces). Every
experiment directory holds ``tokens.txt`` (``symbol id``) and what the tokenizer needs to be
rebuilt on its own (``tokens/bpe.model`` or ``tokens/lexicon.txt``): :func:`load_tokenizer`.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import sentencepiece as spm

from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path, write_text_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)
BLANK, SOS_EOS, UNK = "<blk>", "<sos/eos>", "<unk>"


def train_bpe(texts: Iterable[str], model_path: PathLike, vocab_size: int = 64, extra_words: Sequence[str] = ()) -> Path:
    """Train a sentencepiece BPE model on ``texts`` and write ``model_path`` atomically.

    ``hard_vocab_limit=False``: GRID has 51 words, so a requested size larger than the pieces the
    text supports becomes an upper bound instead of an error. ``extra_words`` (e.g. the task's
    word list) are added as one-word lines so every character of the vocabulary is covered even
    when the training text is tiny. Sentencepiece BPE training is deterministic.
    """
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    lines = sorted({t.strip() for t in texts if t.strip()}) + sorted(set(extra_words))
    if not lines:
        raise AvsrInputError(model_path, "no training text for the BPE model")
    text_file = model_path.with_suffix(".train.txt")
    text_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with atomic_path(model_path) as tmp:
        prefix = str(tmp)[: -len(".model")] if str(tmp).endswith(".model") else str(tmp)
        spm.SentencePieceTrainer.train(
            input=str(text_file), model_prefix=prefix, vocab_size=vocab_size, model_type="bpe",
            character_coverage=1.0, hard_vocab_limit=False, bos_id=-1, eos_id=-1, unk_id=2,
            user_defined_symbols=[BLANK, SOS_EOS], input_sentence_size=100000000,
            shuffle_input_sentence=False, minloglevel=2, num_threads=1,
        )
        if prefix + ".model" != str(tmp):
            Path(prefix + ".model").replace(tmp)
        Path(prefix + ".vocab").unlink(missing_ok=True)
    text_file.unlink()
    return model_path


class BpeTokenizer:
    """words <-> BPE token ids with blank = 0 and sos/eos = 1."""

    unit = "bpe"
    blank_id = 0
    sos_id = 1
    eos_id = 1

    def __init__(self, model_path: PathLike) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise AvsrInputError(path, "sentencepiece model not found")
        self.model_path = path
        self.sp = spm.SentencePieceProcessor(model_file=str(path))
        if self.sp.id_to_piece(0) != BLANK or self.sp.id_to_piece(1) != SOS_EOS:
            raise AvsrInputError(path, f"ids 0/1 must be {BLANK}/{SOS_EOS} (train it with avsr.e2e.tokens.train_bpe)")

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str, phones: Optional[Sequence[str]] = None) -> list[int]:
        """Text → piece ids (``phones`` is accepted for a common interface and ignored)."""
        return list(self.sp.encode(text.lower(), out_type=int))

    def decode(self, ids: Sequence[int]) -> str:
        """Token ids → text; blank and sos/eos are dropped."""
        return self.sp.decode([int(i) for i in ids if int(i) > 1])

    def pieces(self) -> list[str]:
        return [self.sp.id_to_piece(i) for i in range(self.vocab_size)]


class PhoneTokenizer:
    """words/phones <-> phone token ids (blank 0, sos/eos 1, phones from 2).

    ``encode`` prefers the utterance's own phone sequence (e.g. the supervision's phone
    alignment: the pronunciation actually spoken) and otherwise takes each word's first
    pronunciation in the lexicon. ``decode`` returns phones; words need a lexicon graph.
    """

    unit = "phone"
    blank_id = 0
    sos_id = 1
    eos_id = 1

    def __init__(self, tokens_txt: PathLike, lexicon_txt: PathLike) -> None:
        from avsr.lang.lexicon import read_lexicon
        from avsr.lang.symbols import read_symbol_table

        table = read_symbol_table(tokens_txt)
        if table.get(BLANK) != 0 or table.get(SOS_EOS) != 1:
            raise AvsrInputError(tokens_txt, f"ids 0/1 must be {BLANK}/{SOS_EOS}")
        self._pieces = [table.symbol(i) for i in range(table.max_id() + 1)]
        self._id = {p: i for i, p in enumerate(self._pieces)}
        lexicon = read_lexicon(lexicon_txt)
        self._pron: dict[str, tuple[str, ...]] = {}
        for e in lexicon.entries:
            if all(ph in self._id for ph in e.phones):
                self._pron.setdefault(e.word, e.phones)
        self.tokens_txt, self.lexicon_txt = Path(tokens_txt), Path(lexicon_txt)

    @property
    def vocab_size(self) -> int:
        return len(self._pieces)

    def encode(self, text: str, phones: Optional[Sequence[str]] = None) -> list[int]:
        if phones:
            kept = [p for p in phones if p in self._id]  # silences/pauses are not units
            if kept:
                return [self._id[p] for p in kept]
        ids: list[int] = []
        for word in text.split():
            pron = self._pron.get(word) or self._pron.get(word.lower())
            if pron is None:
                raise AvsrInputError(self.lexicon_txt, f"word {word!r} has no pronunciation over the model's phones")
            ids.extend(self._id[p] for p in pron)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Token ids → space-separated phones; blank and sos/eos are dropped."""
        return " ".join(self._pieces[int(i)] for i in ids if int(i) > 1)

    def pieces(self) -> list[str]:
        return list(self._pieces)


Tokenizer = Union[BpeTokenizer, PhoneTokenizer]


def phone_units(lang_dir: PathLike) -> list[str]:
    """The lang dir's non-silence phones (phones/nonsilence.txt), in file order."""
    path = Path(lang_dir) / "phones" / "nonsilence.txt"
    if not path.is_file():
        raise AvsrInputError(path, "missing: a phone-unit model needs a lang dir made by steps/prepare_lang.py")
    phones = [line.split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not phones:
        raise AvsrInputError(path, "no non-silence phones")
    return phones


def write_phone_tokens(lang_dir: PathLike, exp_dir: PathLike) -> PhoneTokenizer:
    """``exp_dir/tokens.txt`` (<blk> 0, <sos/eos> 1, the lang's non-silence phones) and a copy of
    its lexicon as ``exp_dir/tokens/lexicon.txt`` (what :func:`load_tokenizer` reads)."""
    lang_dir, exp_dir = Path(lang_dir), Path(exp_dir)
    symbols = [BLANK, SOS_EOS] + phone_units(lang_dir)
    write_text_atomic(exp_dir / "tokens.txt", "".join(f"{p} {i}\n" for i, p in enumerate(symbols)))
    lexicon = lang_dir / "lexicon.txt"
    if not lexicon.is_file():
        raise AvsrInputError(lexicon, "missing from the lang dir")
    write_text_atomic(exp_dir / "tokens" / "lexicon.txt", lexicon.read_text(encoding="utf-8"))
    return PhoneTokenizer(exp_dir / "tokens.txt", exp_dir / "tokens" / "lexicon.txt")


def load_tokenizer(exp_dir: PathLike) -> Tokenizer:
    """The tokenizer an experiment was trained with (``tokens/bpe.model`` or ``tokens/lexicon.txt``)."""
    exp_dir = Path(exp_dir)
    if (exp_dir / "tokens" / "lexicon.txt").is_file():
        return PhoneTokenizer(exp_dir / "tokens.txt", exp_dir / "tokens" / "lexicon.txt")
    if (exp_dir / "tokens" / "bpe.model").is_file():
        return BpeTokenizer(exp_dir / "tokens" / "bpe.model")
    raise AvsrInputError(exp_dir, "no tokens/lexicon.txt or tokens/bpe.model: not a trained E2E experiment")
