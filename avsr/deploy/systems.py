"""The trained systems of an experiment directory, as transcription sees them.

A system directory is either an E2E experiment (``config.yaml`` + ``epoch-N.pt`` + tokens) or a
hybrid DNN (``final.pt`` + ``frontend.npz``, decoded through the HCLG named in its
``decode.json``). Without ``--method`` / ``--graph`` the choice is the one the recipe scored
best: the system's own score files (``decode_*/<set>/<method>/score.json``; clean ``dev``
first, else clean ``test``) name the method and graph with the lowest WER.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
log = logging.getLogger(__name__)
GRAPH_METHODS = ("hlg_1best", "hlg_nbest_attention", "fst_beam")
SUPPORTED = ("ctc_greedy", "ctc_prefix_beam", "attention_beam", "joint_ctc_attention", "hlg_1best", "greedy", "beam",
             "modified_beam", "fst_beam")


@dataclass(frozen=True)
class SystemChoice:
    kind: str  # e2e | hybrid
    directory: Path
    method: str
    graph: Optional[Path]
    reason: str  # how the method/graph were chosen (printed)


def system_dir(exp: PathLike, system: Optional[str]) -> Path:
    """``exp/system`` (or ``exp`` itself when it is a system directory and ``system`` is None)."""
    d = Path(exp) / system if system else Path(exp)
    if not d.is_dir():
        raise AvsrInputError(d, "no such system directory")
    return d


def system_kind(d: Path) -> str:
    if (d / "config.yaml").is_file() and any(d.glob("epoch-*.pt")):
        return "e2e"
    if (d / "final.pt").is_file() and (d / "frontend.npz").is_file():
        return "hybrid"
    raise AvsrInputError(d, "not a trained system: expected an E2E experiment (config.yaml, epoch-N.pt) or a hybrid "
                         "DNN (final.pt, frontend.npz)")


def _base_method(label: str) -> str:
    for m in sorted(SUPPORTED + GRAPH_METHODS, key=len, reverse=True):
        if label == m or label.startswith(m + "_"):
            return m
    return label


def scored_decodes(d: Path) -> list[dict]:
    """Score records of the system's clean dev/test decodes with all streams, word metric only."""
    out = []
    for p in sorted(d.glob("decode_*/*/*/score.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if rec.get("metric", "wer") != "wer" or rec.get("noise", "clean") != "clean" or "(of" in str(rec.get("modality", "")):
            continue
        rec["_base_method"] = _base_method(str(rec.get("method", "")))
        opts = rec.get("options") or {}
        graph = None
        if rec["_base_method"] in GRAPH_METHODS:  # the record's "graph", else (older records) the options'
            graph = rec.get("graph") or (opts.get("hlg_dir") if rec["_base_method"].startswith("hlg") else opts.get("lg_dir"))
            if not graph:
                continue
        rec["_graph"] = graph
        if rec["_base_method"] in SUPPORTED and (graph is None or Path(graph).is_dir()):
            out.append(rec)
    return out


def choose(d: Path, method: Optional[str], graph: Optional[PathLike], is_transducer: bool, units: str) -> SystemChoice:
    """The method and graph to decode an E2E system with (see module doc)."""
    if method is not None and method not in SUPPORTED:
        raise AvsrInputError(None, f"unknown method {method!r}; choose from {SUPPORTED}")
    if method is not None and graph is not None:
        return SystemChoice("e2e", d, method, Path(graph), "given")
    records = [r for r in scored_decodes(d) if method is None or r["_base_method"] == method]
    for split in ("dev", "test"):
        pool = [r for r in records if r.get("base_set", r.get("test_set")) == split]
        if pool:
            best = min(pool, key=lambda r: (r.get("wer", 1e9), r["method"]))
            g = Path(graph) if graph else (Path(best["_graph"]) if best["_graph"] else None)
            return SystemChoice("e2e", d, best["_base_method"], g,
                                f"best clean {split} WER of the recipe's decodes ({best['method']}: {best.get('wer')} %)")
    if method is None:
        method = ("fst_beam" if is_transducer else "hlg_1best") if graph else ("modified_beam" if is_transducer else "ctc_greedy")
    if method in GRAPH_METHODS and graph is None:
        raise AvsrInputError(d, f"{method} needs a graph (--graph DIR) and no scored decode of this system names one")
    reason = "no scored decodes of this system: default for its model type"
    if units == "phone" and method not in GRAPH_METHODS:
        reason += " (phone units without a lexicon graph: the output is phones)"
    return SystemChoice("e2e", d, method, Path(graph) if graph else None, reason)


def hybrid_choice(d: Path, graph: Optional[PathLike]) -> tuple[SystemChoice, float]:
    """HCLG decoding with the graph and acoustic scale the recipe's dev sweep chose (decode.json)."""
    info = {}
    if (d / "decode.json").is_file():
        info = json.loads((d / "decode.json").read_text())
    g = Path(graph) if graph else (Path(info["graph"]) if info.get("graph") else None)
    if g is None or not g.is_dir():
        raise AvsrInputError(d, "a hybrid system needs its HCLG graph: --graph DIR (stage 9 records it in decode.json)")
    scale = float(info.get("acoustic_scale", 0.1))
    return SystemChoice("hybrid", d, "hclg", g, f"HCLG, acoustic scale {scale} (dev sweep)" if info else "HCLG"), scale
