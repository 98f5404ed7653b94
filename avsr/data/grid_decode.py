"""Decode prepared real GRID clips with models trained by the top-level recipe on the embedded
(synthetic) corpus: GMM-HMM, hybrid DNN-HMM and E2E systems, audio-only, video-only and AV.

The models are only read. Every system is decoded in a *shadow* directory under ``out_dir``:
symlinks to the model's files (weights, tree, alignments, tokens) and nothing else, so the
decoders write their score_*/decode_* outputs there and never next to the embedded results.

Why this works at all: the GRID words are the embedded corpus's 51 words, so the embedded
decoding graphs (``exp/tri/graph_grid_espeak`` over the espeak lexicon, ``exp/graphs/hlg_grid_bpe``)
cover every GRID reference; the stage-3 features (fbank 80, MFCC 24, 44x44 mouth ROI + DCT)
are computed the same way for both corpora. The acoustic scale of the GMM/hybrid systems is
the one each system chose on the embedded dev set (its ``decode.json``): nothing is tuned on
the GRID clips. Frame PER is not reported: the GRID clips have no alignments with the
embedded model's pdfs.

Relative paths stored in the embedded models (e.g. a hybrid model's alignment dir ``exp/tri``)
are relative to the directory the top-level run.sh ran in (the repository root): decoding
runs there (``model_root``).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

from lhotse import CutSet

from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_json_atomic, write_text_atomic

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]

# Outputs a decoder (or a past run) wrote into a model dir: never linked into the shadow dir.
_OUTPUT_PREFIXES = ("score_", "decode_")
_OUTPUT_NAMES = frozenset({"decode.json", "log", "command.txt"})

DEFAULT_SYSTEMS: tuple[str, ...] = (
    "tri", "hybrid_audio", "hybrid_video", "hybrid_concat", "hybrid_bilinear",
    "ctc_att_a", "ctc_att_v", "ctc_att_av_bilinear", "transducer_a", "transducer_av_bilinear",
)
E2E_METHODS = {"ctc_attention": ("ctc_greedy", "joint_ctc_attention"), "transducer": ("greedy", "modified_beam")}


@dataclass(frozen=True)
class DecodeResult:
    """One %WER line: a system, how it was decoded, on which set."""

    system: str
    family: str  # gmm | hybrid | e2e
    modality: str  # A | V | AV
    method: str
    set_name: str
    wer: float
    wer_line: str
    num_utts: int
    hyp_file: str

    def line(self) -> str:
        return f"{self.wer_line} {self.system} ({self.family}, {self.modality}) {self.method} {self.set_name}"


def system_family(name: str) -> str:
    if name in ("mono", "tri"):
        return "gmm"
    if name.startswith("hybrid_"):
        return "hybrid"
    if name.startswith(("ctc_att_", "transducer_")):
        return "e2e"
    raise ValueError(f"unknown system {name!r}: expected mono, tri, hybrid_*, ctc_att_* or transducer_*")


def system_modality(name: str) -> str:
    if system_family(name) == "gmm" or name.endswith(("_audio", "_a")):
        return "A"
    if name.endswith(("_video", "_v")):
        return "V"
    return "AV"


def combine_sets(feature_dir: PathLike, corpus: str, sets: Sequence[str], out_feature_dir: PathLike, name: str = "test") -> Path:
    """Write the union of stage-3 cut sets as ``<out>/<corpus>_cuts_<name>.jsonl.gz`` (the name the
    decoders look for). Feature storage paths must be absolute (stage 3 with an absolute --data)."""
    cuts = []
    for s in sets:
        path = Path(feature_dir) / f"{corpus}_cuts_{s}.jsonl.gz"
        if not path.is_file():
            raise AvsrInputError(path, "cut set not found: run stages 0-3 of egs/grid first")
        cuts.extend(CutSet.from_file(path))
    for cut in cuts:
        storage = cut.features.storage_path if cut.has_features else None
        if storage and not Path(storage).is_absolute():
            raise AvsrInputError(storage, f"cut {cut.id}: relative feature storage path; run stages 1-3 with an absolute --data")
    if not cuts:
        raise AvsrInputError(feature_dir, f"no cuts in sets {' '.join(sets)}")
    out = Path(out_feature_dir) / f"{corpus}_cuts_{name}.jsonl.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    CutSet.from_cuts(sorted(cuts, key=lambda c: c.id)).to_file(out)
    return out


def shadow_model_dir(model_dir: PathLike, out_dir: PathLike) -> Path:
    """``out_dir`` with a symlink to every input file/dir of ``model_dir`` (not its outputs)."""
    model_dir, out_dir = Path(model_dir).resolve(), Path(out_dir)
    if not model_dir.is_dir():
        raise AvsrInputError(model_dir, "model directory not found: run the top-level recipe first")
    out_dir.mkdir(parents=True, exist_ok=True)
    for entry in sorted(model_dir.iterdir()):
        if entry.name.startswith(_OUTPUT_PREFIXES) or entry.name in _OUTPUT_NAMES:
            continue
        link = out_dir / entry.name
        if link.is_symlink() and link.resolve() == entry.resolve():
            continue
        if link.exists() or link.is_symlink():
            raise AvsrInputError(link, f"exists and is not a link to {entry}: remove it or use another --out-dir")
        link.symlink_to(entry)
    return out_dir


def chosen_acoustic_scale(model_dir: PathLike, default: float = 0.1) -> float:
    """The acoustic scale a GMM/hybrid system chose on its own dev set (decode.json)."""
    path = Path(model_dir) / "decode.json"
    if path.is_file():
        return float(json.loads(path.read_text()).get("acoustic_scale", default))
    logger.warning("%s missing: acoustic scale %s", path, default)
    return default


@contextlib.contextmanager
def working_dir(path: PathLike) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _hclg_result(system: str, method: str, set_name: str, summary: dict, score_dir: Path) -> DecodeResult:
    return DecodeResult(system, system_family(system), system_modality(system), method, set_name, summary["wer"],
                        summary["wer_line"], summary["num_utts"], str(score_dir / "hyp.txt"))


def decode_gmm(model_dir: Path, shadow: Path, feature_dir: Path, corpus: str, set_name: str, graph: Path,
               lexicon: Optional[Path], beam: float = 13.0) -> list[DecodeResult]:
    from avsr.hmm.evaluate import evaluate_gmm

    scale = chosen_acoustic_scale(model_dir)
    # One scale to "sweep" = no tuning on GRID: the dev set passed is the test set itself.
    res = evaluate_gmm(shadow, feature_dir, corpus, [set_name], graph, lexicon, set_name, [scale], beam)
    return [_hclg_result(shadow.name, f"hclg_{graph.name.removeprefix('graph_')}_ac{scale:g}", set_name, res[set_name], shadow / f"score_{set_name}")]


def decode_hybrid(model_dir: Path, shadow: Path, feature_dir: Path, corpus: str, set_name: str, graph: Path,
                  lexicon: Optional[Path], beam: float = 13.0) -> list[DecodeResult]:
    from avsr.hybrid.pipeline import evaluate_hybrid

    scale = chosen_acoustic_scale(model_dir)
    res = evaluate_hybrid({}, shadow, feature_dir, corpus, [set_name], graph, lexicon, set_name, [scale], beam, "cpu", 1)
    return [_hclg_result(shadow.name, f"hclg_{graph.name.removeprefix('graph_')}_ac{scale:g}", set_name, res[set_name], shadow / f"score_{set_name}")]


def decode_e2e(shadow: Path, data_dir: Path, corpus: str, set_name: str, avg: int, hlg_dir: Optional[Path],
               beam: int = 4) -> list[DecodeResult]:
    import yaml

    from avsr.e2e.decode import SearchOptions, decode_sets
    from avsr.train.data import FeatureCache, cuts_path, load_cuts

    model_kind = yaml.safe_load((shadow / "config.yaml").read_text())["model"]
    cache = {set_name: FeatureCache(load_cuts(cuts_path(data_dir, corpus, set_name)), desc=f"load {set_name}")}
    records = decode_sets(shadow, cache, list(E2E_METHODS[model_kind]), None, avg, None, SearchOptions(beam=beam))
    if hlg_dir is not None and model_kind == "ctc_attention":
        records += decode_sets(shadow, cache, ["hlg_1best"], None, avg, None, SearchOptions(beam=beam, hlg_dir=str(hlg_dir)))
    out = []
    for rec in records:
        decode_dir = shadow / f"decode_epoch{rec['epoch']}_avg{rec['avg']}" / set_name / rec["method"]
        line = (decode_dir / "wer").read_text().strip()
        out.append(DecodeResult(shadow.name, "e2e", system_modality(shadow.name), rec["method"], set_name, rec["wer"], line,
                                rec["num_utts"], str(decode_dir / "hyp.txt")))
    return out


def decode_with_embedded_models(
    model_exp: PathLike,
    lang_dir: PathLike,
    grid_feature_dir: PathLike,
    out_dir: PathLike,
    systems: Sequence[str] = DEFAULT_SYSTEMS,
    sets: Sequence[str] = ("test", "train"),
    corpus: str = "grid",
    model_root: Optional[PathLike] = None,
    avg: int = 3,
    skip_missing: bool = True,
    graph_name: str = "graph_grid_espeak",
    hlg_name: str = "hlg_grid_bpe",
    beam: float = 13.0,
) -> list[DecodeResult]:
    """Decode the union of the GRID ``sets`` (as one set "test") with each embedded system.

    ``model_exp``: the top-level recipe's exp dir (``exp/tri/<graph_name>``, ``exp/hybrid_*``,
    ``exp/ctc_att_*``, ``exp/graphs/<hlg_name>``); ``lang_dir``: its espeak lang dir (lexicon for PER).
    Systems whose model is missing are skipped with a warning (``skip_missing``) or an error.
    ``beam``: HCLG decoding beam of the GMM/hybrid systems (13 = conf/gmm.yaml, what the pipeline
    uses; an utterance with no surviving path is decoded as empty, i.e. all deletions).
    Writes ``out_dir/results.txt`` (one %WER line per system x method) and ``results.json``.
    """
    model_exp, lang_dir, out_dir = Path(model_exp).resolve(), Path(lang_dir).resolve(), Path(out_dir).resolve()
    grid_feature_dir = Path(grid_feature_dir).resolve()
    model_root = Path(model_root).resolve() if model_root else model_exp.parent
    data_dir = out_dir / "data"
    combine_sets(grid_feature_dir, corpus, sets, data_dir / "fbank", "test")
    graph = model_exp / "tri" / graph_name
    hlg_dir = model_exp / "graphs" / hlg_name
    lexicon = lang_dir / "lexicon.txt"
    results: list[DecodeResult] = []
    skipped: dict[str, str] = {}
    with working_dir(model_root):
        for system in systems:
            family = system_family(system)
            model_dir = model_exp / system
            needed = {"gmm": [model_dir / "final.pkl", graph], "hybrid": [model_dir / "final.pt", graph],
                      "e2e": [model_dir / "config.yaml"]}[family]
            missing = [str(p) for p in needed if not p.exists()]
            if missing:
                if not skip_missing:
                    raise AvsrInputError(missing[0], f"system {system}: model or graph not found")
                skipped[system] = f"missing {', '.join(missing)}"
                logger.warning("skipping %s: %s", system, skipped[system])
                continue
            shadow = shadow_model_dir(model_dir, out_dir / system)
            logger.info("decoding the GRID clips with %s (%s)", system, family)
            if family == "gmm":
                results += decode_gmm(model_dir, shadow, data_dir / "fbank", corpus, "test", graph, lexicon if lexicon.is_file() else None, beam)
            elif family == "hybrid":
                results += decode_hybrid(model_dir, shadow, data_dir / "fbank", corpus, "test", graph, lexicon if lexicon.is_file() else None, beam)
            else:
                results += decode_e2e(shadow, data_dir, corpus, "test", avg, hlg_dir if hlg_dir.is_dir() else None)
    write_text_atomic(out_dir / "results.txt", "".join(r.line() + "\n" for r in results))
    write_json_atomic(out_dir / "results.json", {"model_exp": str(model_exp), "grid_sets": list(sets), "hclg_beam": beam, "skipped": skipped,
                                                 "results": [asdict(r) for r in results]})
    return results
