"""Token tables for the E2E models.

BPE (sentencepiece) is the default unit. Ids follow icefall's convention so the model's output
index *is* the sentencepiece id: 0 = ``<blk>`` (CTC / transducer blank), 1 = ``<sos/eos>``
(attention decoder start and end), 2 = ``<unk>``, then the pieces.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Sequence, Union

import sentencepiece as spm

from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path

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

    def encode(self, text: str) -> list[int]:
        return list(self.sp.encode(text.lower(), out_type=int))

    def decode(self, ids: Sequence[int]) -> str:
        """Token ids → text; blank and sos/eos are dropped."""
        return self.sp.decode([int(i) for i in ids if int(i) > 1])

    def pieces(self) -> list[str]:
        return [self.sp.id_to_piece(i) for i in range(self.vocab_size)]
