"""Build a decoding graph directory from a lang dir, an LM dir and (optionally) a model dir,
idempotently: the output's build.json records the SHA-256 of every input file, and a rebuild
happens only when one of them changed (that is how a lexicon/LM swap proves it rebuilt only
the graph and never touched the model).

exp/graphs/<kind>_<lang>_<lm>/
  LG.fst | HLG.fst | HCLG.fst   the graph (ilabel k reads score column k-1, or columns.int)
  words.txt, phones.txt         output words / lang phones
  tokens.txt                    (lg, hlg) score-matrix columns: <blk> 0 + phones by id
  columns.int                   (hclg) column (pdf id) read by input label k (line k)
  G.fst                         only when the LM dir's G was compiled for another words.txt
  build.json                    kind, inputs + hashes, sizes, seconds, num_columns
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Optional, Union

import numpy as np

from avsr.lang.lm import compile_g
from avsr.lang.symbols import SymbolTable, read_symbol_table
from avsr.lang.validate import validate_lang
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_dir, write_json_atomic, write_text_atomic
from avsr.wfst.compose import build_hclg, build_hlg, build_lg_graph, compose_lg
from avsr.wfst.fstutil import file_sha256, fst_size, read_fst, write_fst_atomic
from avsr.wfst.hmm_h import MonophoneHBuilder

PathLike = Union[str, Path]
log = logging.getLogger(__name__)
KINDS = ("lg", "hlg", "hclg")
# Bumped when a kind's construction changes, so graph dirs built by older code are rebuilt, not
# reused (the input hashes alone would match). hlg 2: LG determinised on (phone, word) pairs.
CONSTRUCTION = {"lg": 1, "hlg": 2, "hclg": 1}
MODEL_FILE = "final.json"  # GMM-HMM model (+ final.npz), avsr.hmm.model_io: no pickle
MODEL_ARRAYS = "final.npz"
LEGACY_MODEL_FILE = "final.pkl"  # refused: loading a pickle can run code


def default_graph_dir(kind: str, lang_dir: PathLike, lm_dir: PathLike, root: PathLike = "exp/graphs") -> Path:
    lang_name = Path(lang_dir).name.removeprefix("lang_")
    return Path(root) / f"{kind}_{lang_name}_{Path(lm_dir).name}"


def _input_files(kind: str, lang_dir: Path, lm_dir: Path, model_dir: Optional[Path]) -> dict[str, Path]:
    files = {
        "lang/L_disambig.fst": lang_dir / "L_disambig.fst",
        "lang/phones.txt": lang_dir / "phones.txt",
        "lang/words.txt": lang_dir / "words.txt",
    }
    lm_source = lm_dir / "lm.arpa" if (lm_dir / "lm.arpa").is_file() else lm_dir / "G.fst"
    files[f"lm/{lm_source.name}"] = lm_source
    if kind == "hclg":
        files["lang/topo"] = lang_dir / "topo"
    if model_dir is not None:
        for name in ("tokens.txt", MODEL_FILE, MODEL_ARRAYS):
            if (model_dir / name).is_file():
                files[f"model/{name}"] = model_dir / name
    for key, path in files.items():
        if not path.is_file():
            raise AvsrInputError(path, f"graph input {key} does not exist")
    return files


def _tokens_for(lang_phones: SymbolTable, model_dir: Optional[Path]) -> SymbolTable:
    """The CTC model's token table; without a model, the lang's phones with <blk> at 0."""
    real = [(s, i) for s, i in lang_phones if i != 0 and not s.startswith("#")]
    if model_dir is not None and (model_dir / "tokens.txt").is_file():
        tokens = read_symbol_table(model_dir / "tokens.txt")
        for sym, idx in real:
            if tokens.get(sym) != idx:
                raise AvsrInputError(
                    model_dir / "tokens.txt",
                    f"lang phone {sym!r} (id {idx}) is not the model's token {sym!r} (id {tokens.get(sym)}): "
                    "prepare the lang with --phone-table <model>/tokens.txt",
                )
        return tokens
    tokens = SymbolTable()
    tokens.add("<blk>", 0)
    for sym, idx in real:
        tokens.add(sym, idx)
    return tokens


def _h_builder(lang_dir: Path, model_dir: Optional[Path]) -> tuple[MonophoneHBuilder, str]:
    if model_dir is not None and not (model_dir / MODEL_FILE).is_file() and (model_dir / LEGACY_MODEL_FILE).is_file():
        from avsr.hmm.model_io import model_file

        model_file(model_dir)  # raises: a pickle is never loaded, and never silently replaced by an untrained H
    if model_dir is not None and (model_dir / MODEL_FILE).is_file():
        return MonophoneHBuilder.from_model_file(model_dir / MODEL_FILE), str(model_dir / MODEL_FILE)
    return MonophoneHBuilder.from_topology((lang_dir / "topo").read_text()), f"{lang_dir / 'topo'} (untrained)"


def make_graph(
    kind: str,
    lang_dir: PathLike,
    lm_dir: PathLike,
    out_dir: Optional[PathLike] = None,
    model_dir: Optional[PathLike] = None,
    force: bool = False,
) -> dict:
    """Build (or reuse) the graph; returns its build.json content (``"skipped": True`` if reused)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    lang_dir, lm_dir = Path(lang_dir), Path(lm_dir)
    model_dir = Path(model_dir) if model_dir else None
    out_dir = Path(out_dir) if out_dir else default_graph_dir(kind, lang_dir, lm_dir)
    files = _input_files(kind, lang_dir, lm_dir, model_dir)
    hashes = {key: file_sha256(path) for key, path in files.items()}
    build_path = out_dir / "build.json"
    if build_path.is_file() and not force:
        old = json.loads(build_path.read_text())
        if old.get("input_hashes") == hashes and old.get("kind") == kind and old.get("construction", 1) == CONSTRUCTION[kind]:
            log.info("%s is up to date (input hashes match): skipped", out_dir)
            return {**old, "skipped": True}
    validate_lang(lang_dir)
    t0 = time.time()
    phones = read_symbol_table(lang_dir / "phones.txt")
    disambig = [i for s, i in phones if s.startswith("#")]
    L_disambig = read_fst(lang_dir / "L_disambig.fst")
    lm_words = lm_dir / "words.txt"
    g_rebuilt = not (lm_words.is_file() and (lm_dir / "G.fst").is_file() and file_sha256(lm_words) == hashes["lang/words.txt"])
    G = compile_g(lm_dir, lang_dir / "words.txt") if g_rebuilt else read_fst(lm_dir / "G.fst")
    t_g = time.time()
    LG = compose_lg(L_disambig, G, words_stay_on_phones=(kind == "hlg"))
    t_lg = time.time()
    tokens = None
    model_desc = None
    if kind == "lg":
        built = build_lg_graph(LG, disambig)
        tokens = _tokens_for(phones, model_dir)
    elif kind == "hlg":
        tokens = _tokens_for(phones, model_dir)
        built = build_hlg(LG, disambig, [i for _, i in tokens if i != 0], blank_id=0)
        built.num_columns = tokens.max_id() + 1
    else:
        h_builder, model_desc = _h_builder(lang_dir, model_dir)
        built = build_hclg(LG, disambig, h_builder)
    t_end = time.time()
    info = {
        "kind": kind,
        "construction": CONSTRUCTION[kind],
        "lang": str(lang_dir),
        "lm": str(lm_dir),
        "model": str(model_dir) if model_dir else None,
        "h_model": model_desc,
        "input_hashes": hashes,
        "G_rebuilt_for_lang": g_rebuilt,
        "num_columns": int(built.num_columns),
        "sizes": {"G": fst_size(G), **built.sizes},
        "seconds": {"G": round(t_g - t0, 3), "LG": round(t_lg - t_g, 3), "graph": round(t_end - t_lg, 3), "total": round(t_end - t0, 3)},
    }
    with atomic_dir(out_dir) as tmp:
        write_fst_atomic(built.fst, tmp / {"lg": "LG.fst", "hlg": "HLG.fst", "hclg": "HCLG.fst"}[kind])
        shutil.copyfile(lang_dir / "words.txt", tmp / "words.txt")
        shutil.copyfile(lang_dir / "phones.txt", tmp / "phones.txt")
        if tokens is not None:
            tokens.write(tmp / "tokens.txt")
        if built.column_map is not None:
            write_text_atomic(tmp / "columns.int", "".join(f"{c}\n" for c in np.asarray(built.column_map)))
        if g_rebuilt:
            write_fst_atomic(G, tmp / "G.fst")
        write_json_atomic(tmp / "build.json", info)
    log.info("built %s: %s %s in %.2fs", out_dir, kind.upper(), info["sizes"]["graph"], info["seconds"]["total"])
    return info
