"""Swapping the lexicon and/or LM of an existing model without retraining it.

``swap_and_decode`` (re)prepares the lang dir with the model's phone ids, (re)trains the LM
on the new text, rebuilds the graph (each step skips itself when its input hashes are
unchanged), decodes a score archive produced by the model, and records the SHA-256 of every
model file before and after: the report proves the model was only read.

Until acoustic models exist, the tests point it at an oracle archive; later, point
``scores`` at a real model's posterior archive (steps/decode_graph.py format) and
``model_dir`` at its directory (tokens.txt for CTC, final.json + final.npz for a GMM-HMM).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Union

from avsr.decode.decoder import DecodeOptions
from avsr.decode.run import decode_archive
from avsr.lang.build import build_lang
from avsr.lang.lm import make_lm
from avsr.wfst.fstutil import file_sha256
from avsr.wfst.make_graph import make_graph

PathLike = Union[str, Path]


def hash_dir(directory: PathLike) -> dict[str, str]:
    """SHA-256 of every file under ``directory`` (relative path -> hash)."""
    directory = Path(directory)
    return {str(p.relative_to(directory)): file_sha256(p) for p in sorted(directory.rglob("*")) if p.is_file()}


def mtimes(paths: dict[str, PathLike]) -> dict[str, Optional[int]]:
    return {k: (Path(p).stat().st_mtime_ns if Path(p).exists() else None) for k, p in paths.items()}


def swap_and_decode(
    model_dir: PathLike,
    scores: PathLike,
    lexicon_file: PathLike,
    lm_text: PathLike,
    lang_dir: PathLike,
    lm_dir: PathLike,
    graph_dir: PathLike,
    hyp_out: PathLike,
    kind: str = "hlg",
    lexicon_source: str = "file",
    lm_order: int = 3,
    options: Optional[DecodeOptions] = None,
) -> dict:
    """Rebuild L, G and the graph for a new lexicon/LM and decode the model's scores."""
    model_before = hash_dir(model_dir)
    scores_before = file_sha256(scores)
    watched = {"L_disambig.fst": Path(lang_dir) / "L_disambig.fst", "G.fst": Path(lm_dir) / "G.fst",
               "graph build.json": Path(graph_dir) / "build.json"}
    before = mtimes(watched)
    tokens = Path(model_dir) / "tokens.txt"
    t0 = time.time()
    _, lang_rebuilt = build_lang(lang_dir, lexicon_source, [], lexicon_file, phone_table=tokens if tokens.is_file() else None)
    make_lm(lm_dir, lang_dir, kind="ngram", text=lm_text, order=lm_order)
    graph_info = make_graph(kind, lang_dir, lm_dir, graph_dir, model_dir)
    hyps = decode_archive(graph_dir, scores, hyp_out, options)
    after = mtimes(watched)
    model_after = hash_dir(model_dir)
    return {
        "rebuilt": {k: before[k] != after[k] for k in watched},
        "lang_rebuilt": lang_rebuilt,
        "graph_skipped": bool(graph_info.get("skipped")),
        "graph_sizes": graph_info["sizes"],
        "model_hashes_before": model_before,
        "model_unchanged": model_before == model_after,
        "scores_unchanged": scores_before == file_sha256(scores),
        "hyps": hyps,
        "seconds": round(time.time() - t0, 3),
    }
