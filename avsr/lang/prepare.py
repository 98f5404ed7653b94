"""Write a Kaldi-style lang directory from a lexicon (our utils/prepare_lang.sh).

data/lang_<name>/
  lexicon.txt, lexiconp.txt, lexiconp_disambig.txt
  phones.txt  <eps> 0, silence phones, non-silence phones, #0..#K
  words.txt   <eps> 0, words (incl. <unk>), #0, <s>, </s>
  phones/{silence,nonsilence,optional_silence,disambig}.{txt,int}, phones/wdisambig_words.int
  L.fst, L_disambig.fst (olabel-sorted), topo, build.json (options + input hash)
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Union

from avsr.lang.disambig import add_disambig_symbols
from avsr.lang.lexicon import Lexicon, LexiconEntry, write_lexicon
from avsr.lang.symbols import SymbolTable, read_symbol_table, write_int_list
from avsr.lang.topo import make_topology
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_dir, write_json_atomic, write_text_atomic
from avsr.wfst.fstutil import fst_size, write_fst_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


@dataclass
class LangOptions:
    sil_phone: str = "SIL"  # "" = no silence phone and no optional silence (e.g. BPE units)
    sil_prob: float = 0.5
    unk_word: str = "<unk>"
    unk_phone: str = "SPN"  # spoken noise, a silence-class phone as in Kaldi recipes
    position_dependent: bool = False
    num_nonsil_states: int = 3
    num_sil_states: int = 5


def _position_dependent(lexicon: Lexicon, silence: set[str]) -> Lexicon:
    """Kaldi word-position phones: p_B p_I.. p_E, or p_S for one-phone words (silence kept as is)."""
    entries = []
    for e in lexicon.entries:
        n = len(e.phones)
        out = []
        for k, p in enumerate(e.phones):
            if p in silence:
                out.append(p)
            elif n == 1:
                out.append(f"{p}_S")
            else:
                out.append(f"{p}_{'B' if k == 0 else 'E' if k == n - 1 else 'I'}")
        entries.append(LexiconEntry(e.word, tuple(out), e.prob))
    return Lexicon(entries)


def _phone_table(
    silence: list[str], nonsilence: list[str], num_disambig: int, fixed: Optional[SymbolTable], fixed_path: str
) -> SymbolTable:
    """phones.txt; with ``fixed`` (an existing model's phones/tokens), real phones keep its ids."""
    table = SymbolTable()
    table.add("<eps>", 0)
    if fixed is None:
        for p in silence + nonsilence:
            table.add(p)
    else:
        missing = [p for p in silence + nonsilence if p not in fixed]
        if missing:
            raise AvsrInputError(
                fixed_path, f"phone(s) {' '.join(missing[:10])} of the lexicon are not in this phone table"
            )
        for sym, idx in fixed:
            if idx != 0 and not sym.startswith("#"):
                table.add(sym, idx)  # keep every model phone, even if this lexicon does not use it
    for k in range(num_disambig + 1):
        table.add(f"#{k}")  # after every real phone, so real ids stay contiguous
    return table


def prepare_lang(
    lexicon: Lexicon,
    out_dir: PathLike,
    options: Optional[LangOptions] = None,
    phone_table: Optional[PathLike] = None,
    source_hash: str = "",
) -> Path:
    """Write the lang directory for ``lexicon`` atomically; returns its path.

    ``phone_table``: an existing phones.txt/tokens.txt whose ids must be kept (so a model
    trained on that inventory can use graphs built from this new lexicon).
    """
    from avsr.wfst.lexicon_fst import make_lexicon_fst

    opts = options or LangOptions()
    t0 = time.time()
    out_dir = Path(out_dir)
    silence = ([opts.sil_phone] if opts.sil_phone else []) + (  # no <unk> word: no phone of its own
        [opts.unk_phone] if opts.unk_word and opts.unk_phone and opts.unk_phone != opts.sil_phone else []
    )
    if opts.unk_word and not (opts.unk_phone or opts.sil_phone):
        raise ValueError("an <unk> word needs unk_phone or sil_phone")
    entries = list(lexicon.entries)
    if opts.unk_word and opts.unk_word not in lexicon:
        entries.append(LexiconEntry(opts.unk_word, (opts.unk_phone or opts.sil_phone,)))
    for e in entries:
        if opts.sil_phone and opts.sil_phone in e.phones and e.word != opts.unk_word and len(e.phones) > 1:
            raise AvsrInputError(None, f"word {e.word!r}: the silence phone {opts.sil_phone} inside a pronunciation")
    lex = Lexicon(entries)
    if opts.position_dependent:
        lex = _position_dependent(lex, set(silence))
    nonsilence = sorted({p for e in lex.entries for p in e.phones} - set(silence))
    lex_disambig, max_disambig = add_disambig_symbols(lex)
    fixed = read_symbol_table(phone_table) if phone_table else None
    phones = _phone_table(silence, nonsilence, max_disambig, fixed, str(phone_table))
    words = SymbolTable()
    words.add("<eps>", 0)
    for w in sorted(lex.words):
        words.add(w)
    for special in ("#0", "<s>", "</s>"):
        words.add(special)
    disambig = [s for s, _ in phones if s.startswith("#")]
    sil = opts.sil_phone or None
    L = make_lexicon_fst(lex, phones, words, sil, opts.sil_prob, disambig_loop=False)
    L_disambig = make_lexicon_fst(lex_disambig, phones, words, sil, opts.sil_prob, disambig_loop=True)
    real_silence = [p for p in silence if p in phones]
    all_nonsil = [s for s, i in phones if i != 0 and not s.startswith("#") and s not in real_silence]
    with atomic_dir(out_dir) as tmp:
        write_lexicon(lex, tmp / "lexicon.txt")
        write_lexicon(lex, tmp / "lexiconp.txt", with_probs=True)
        write_lexicon(lex_disambig, tmp / "lexiconp_disambig.txt", with_probs=True)
        phones.write(tmp / "phones.txt")
        words.write(tmp / "words.txt")
        for name, syms in (
            ("silence", real_silence),
            ("nonsilence", all_nonsil),
            ("optional_silence", [opts.sil_phone] if opts.sil_phone else []),
            ("disambig", disambig),
        ):
            write_text_atomic(tmp / "phones" / f"{name}.txt", "".join(f"{s}\n" for s in syms))
            write_int_list(tmp / "phones" / f"{name}.int", [phones[s] for s in syms])
        write_int_list(tmp / "phones" / "wdisambig_words.int", [words["#0"]])
        write_fst_atomic(L, tmp / "L.fst")
        write_fst_atomic(L_disambig, tmp / "L_disambig.fst")
        topo = make_topology(
            [phones[p] for p in all_nonsil], [phones[p] for p in real_silence], opts.num_nonsil_states, opts.num_sil_states
        )
        write_text_atomic(tmp / "topo", topo)
        write_json_atomic(
            tmp / "build.json",
            {
                "kind": "lang",
                "options": asdict(opts),
                "source_hash": source_hash,
                "phone_table": str(phone_table) if phone_table else None,
                "num_words": len(lex.words),
                "num_phones": len(real_silence) + len(all_nonsil),
                "num_disambig": len(disambig),
                "L": fst_size(L),
                "L_disambig": fst_size(L_disambig),
                "seconds": round(time.time() - t0, 3),
            },
        )
    log.info("wrote %s: %d words, %d phones, L %s", out_dir, len(lex.words), len(all_nonsil) + len(real_silence), fst_size(L))
    return out_dir


def read_lang_build(lang_dir: PathLike) -> dict:
    path = Path(lang_dir) / "build.json"
    return json.loads(path.read_text()) if path.is_file() else {}
