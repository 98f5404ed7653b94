"""Decode prepared GRID clips with every trained system of an exp dir: GMM-HMM, hybrid DNN-HMM
(incl. posterior averaging) and E2E (CTC+attention, transducer), audio-only, video-only and AV.

Any exp dir the pipeline wrote works: the top-level one of the embedded run (its graphs are over
the espeak lexicon, ``tri/graph_grid_espeak``) or ``egs/grid/exp`` of a real-GRID run
(``tri/graph_grid_main``, CMUdict). Systems are found by what their dirs hold
(:func:`find_systems`); the GRID words are the embedded corpus's 51 words, so both kinds of
graph cover every GRID reference, and the stage-3 features are computed the same way for
every corpus.

The models are only read. Every system is decoded in a *shadow* directory under ``out_dir``:
symlinks to the model's files (weights, tree, alignments, tokens) and nothing else, so the
decoders write their score_*/decode_* outputs there and never next to the training run's.
The GMM/hybrid acoustic scale is the one each system chose on its own dev set (decode.json)
and the E2E checkpoint average the one its run decoded with: nothing is tuned on the clips.

Relative paths stored in the models (a hybrid model's alignment dir ``exp/tri``) are relative
to where the recipe ran, the exp dir's parent: decoding runs there (``model_root``).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

from lhotse import CutSet

from avsr.data.manifests import load_cuts as read_cut_manifest
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_json_atomic, write_text_atomic

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]

# Outputs a decoder (or a past run) wrote into a model dir: never linked into the shadow dir.
_OUTPUT_PREFIXES = ("score_", "decode_")
_OUTPUT_NAMES = frozenset({"decode.json", "log", "command.txt"})
FAMILY_ORDER = {"gmm": 0, "hybrid": 1, "e2e": 2}


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


@dataclass(frozen=True)
class System:
    """A trained system found in an exp dir, with what decoding it needs."""

    name: str
    family: str
    modality: str
    model_dir: Path
    graph: Optional[Path] = None  # GMM / hybrid: HCLG over the alignment model's pdfs
    members: tuple[str, ...] = ()  # posterior average: the member model dirs
    avg: int = 1  # E2E: checkpoints averaged
    hlg: Optional[Path] = None  # E2E: the run's GRID-grammar word graph, HLG (CTC+attention) or LG (transducer)
    hlg_kind: str = "hlg"  # E2E: which of the two ``hlg`` is (e2e_graph_kind)
    extra: dict = field(default_factory=dict)


def system_family(name: str) -> str:
    if name in ("mono", "tri"):
        return "gmm"
    if name.startswith("hybrid_"):
        return "hybrid"
    if name.startswith(("ctc_att_", "transducer_")):
        return "e2e"
    raise ValueError(f"unknown system {name!r}: expected mono, tri, hybrid_*, ctc_att_* or transducer_*")


def e2e_graph_kind(model_dir: Path) -> str:
    """The word graph an E2E model searches: "lg" for a transducer, "hlg" for CTC+attention (its
    config.yaml's ``model``, whatever the directory is called)."""
    from avsr.utils.config import load_yaml

    return "lg" if load_yaml(model_dir / "config.yaml").get("model") == "transducer" else "hlg"


def system_modality(name: str) -> str:
    if system_family(name) == "gmm" or name.endswith(("_audio", "_a")):
        return "A"
    if name.endswith(("_video", "_v")):
        return "V"
    return "AV"


def _resolve(path: str, root: Path) -> Path:
    return Path(path) if Path(path).is_absolute() else root / path


def _hclg_graph(model_dir: Path, fallback_dir: Optional[Path], root: Path) -> Optional[Path]:
    """The word graph the system's own run decoded with (decode.json), else a GRID-grammar
    graph beside it (``graph_grid_*``, then any other word graph) or beside ``fallback_dir``."""
    decode_json = model_dir / "decode.json"
    if decode_json.is_file():
        graph = json.loads(decode_json.read_text()).get("graph")
        if graph and _resolve(graph, root).is_dir():
            return _resolve(graph, root)
    for d in (model_dir, fallback_dir):
        if d is None:
            continue
        graphs = sorted(p for p in d.glob("graph_*") if p.is_dir() and not p.name.startswith("graph_phone"))
        graphs.sort(key=lambda p: not p.name.startswith("graph_grid_"))
        if graphs:
            return graphs[0]
    return None


def _e2e_avg(model_dir: Path) -> int:
    """How many checkpoints the run averaged for decoding (its newest decode_epoch*_avg* dir)."""
    found = [(d.stat().st_mtime, int(m.group(1))) for d in model_dir.glob("decode_epoch*_avg*")
             if (m := re.fullmatch(r"decode_epoch\d+_avg(\d+)", d.name))]
    return max(found)[1] if found else 1


def _grid_hlg(exp: Path, model_dir: Path, kind: str = "hlg") -> Optional[Path]:
    """The run's GRID-grammar HLG (``kind`` hlg) or LG (lg) over this model's output units
    (``exp/graphs/<kind>_grid_*`` whose tokens.txt is the model's), or None."""
    tokens = model_dir / "tokens.txt"
    for graph in sorted(p for p in (exp / "graphs").glob(f"{kind}_grid_*") if p.is_dir()):
        if not tokens.is_file() or not (graph / "tokens.txt").is_file() or (graph / "tokens.txt").read_bytes() == tokens.read_bytes():
            return graph
    return None


def find_systems(exp: PathLike, model_root: Optional[PathLike] = None) -> tuple[list[System], dict[str, str]]:
    """Every decodable system under ``exp`` and, per dir that looks like one but cannot be
    decoded, why not (e.g. a hybrid model without a graph)."""
    exp = Path(exp).resolve()
    root = Path(model_root).resolve() if model_root else exp.parent
    if not exp.is_dir():
        raise AvsrInputError(exp, "exp dir not found")
    systems: list[System] = []
    skipped: dict[str, str] = {}
    for d in sorted(p for p in exp.iterdir() if p.is_dir()):
        try:
            family = system_family(d.name)
        except ValueError:
            continue
        mod = system_modality(d.name)
        if family == "gmm":
            if not (d / "final.json").is_file():
                skipped[d.name] = "no final.json (not trained)"
                continue
            graph = _hclg_graph(d, None, root)
            if graph is None:
                skipped[d.name] = f"no decoding graph ({d}/graph_*)"
                continue
            systems.append(System(d.name, family, mod, d, graph))
        elif family == "hybrid":
            members: tuple[str, ...] = ()
            if (d / "final.pt").is_file():
                import torch

                ali_dir = _resolve(str(torch.load(d / "final.pt", map_location="cpu", weights_only=True)["ali_dir"]), root)
            else:  # posterior average: its scores name the member nets
                summaries = sorted(d.glob("score_*/summary.json"))
                members = tuple(json.loads(summaries[0].read_text()).get("members") or ()) if summaries else ()
                if not members:
                    skipped[d.name] = "no final.pt and no posterior-average members (not trained)"
                    continue
                missing = [m for m in members if not (_resolve(m, root) / "final.pt").is_file()]
                if missing:
                    skipped[d.name] = f"posterior-average member(s) not trained: {', '.join(missing)}"
                    continue
                import torch

                first = _resolve(members[0], root) / "final.pt"
                ali_dir = _resolve(str(torch.load(first, map_location="cpu", weights_only=True)["ali_dir"]), root)
            graph = _hclg_graph(d, ali_dir, root)
            if graph is None:
                skipped[d.name] = f"no decoding graph (decode.json, or {ali_dir}/graph_*)"
                continue
            systems.append(System(d.name, family, mod, d, graph, members=members))
        else:
            if not (d / "config.yaml").is_file() or not any(d.glob("*.pt")):
                skipped[d.name] = "no config.yaml / checkpoints (not trained)"
                continue
            kind = e2e_graph_kind(d)
            systems.append(System(d.name, family, mod, d, avg=_e2e_avg(d), hlg=_grid_hlg(exp, d, kind), hlg_kind=kind))
    systems.sort(key=lambda s: (FAMILY_ORDER[s.family], s.name))
    return systems, skipped


def combine_sets(feature_dir: PathLike, corpus: str, sets: Sequence[str], out_feature_dir: PathLike, name: str = "test") -> Path:
    """Write the union of stage-3 cut sets as ``<out>/<corpus>_cuts_<name>.jsonl.gz`` (the name the
    decoders look for); empty sets (a split no clip fell into) are fine, all empty is an error.
    Feature storage paths must be absolute (stage 3 with an absolute --data)."""
    cuts = []
    for s in sets:
        path = Path(feature_dir) / f"{corpus}_cuts_{s}.jsonl.gz"
        if not path.is_file():
            raise AvsrInputError(path, "cut set not found: run stages 0-3 of egs/grid first")
        cuts.extend(read_cut_manifest(path))
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
        raise AvsrInputError(model_dir, "model directory not found: run the recipe first")
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = {e.name: e for e in sorted(model_dir.iterdir())
              if not (e.name.startswith(_OUTPUT_PREFIXES) or e.name in _OUTPUT_NAMES)}
    changed = False
    for link in sorted(out_dir.iterdir()):  # a model retrained since the last decode: drop what it no longer has
        if link.is_symlink() and (link.name not in inputs or link.resolve() != inputs[link.name].resolve()):
            link.unlink()
            changed = True
    for name, entry in inputs.items():
        link = out_dir / name
        if link.is_symlink():
            continue
        if link.exists():
            raise AvsrInputError(link, f"exists and is not a link to {entry}: remove it or use another --out-dir")
        link.symlink_to(entry)
    if changed:  # the decodes of the model's former files must not be read as this model's
        for old in out_dir.iterdir():
            if not old.is_symlink() and (old.name.startswith(_OUTPUT_PREFIXES) or old.name in _OUTPUT_NAMES):
                shutil.rmtree(old) if old.is_dir() else old.unlink()
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


def _hclg_result(system: System, method: str, set_name: str, summary: dict, score_dir: Path) -> DecodeResult:
    return DecodeResult(system.name, system.family, system.modality, method, set_name, summary["wer"],
                        summary["wer_line"], summary["num_utts"], str(score_dir / "hyp.txt"))


def decode_hclg(system: System, shadow: Path, feature_dir: Path, corpus: str, set_name: str,
                lexicon: Optional[Path], beam: float = 13.0) -> DecodeResult:
    """A GMM or hybrid system through its HCLG at the acoustic scale of its own dev set."""
    scale = chosen_acoustic_scale(system.model_dir)
    # One scale to "sweep" = no tuning here: the "dev" set passed is the decoded set itself.
    if system.family == "gmm":
        from avsr.hmm.evaluate import evaluate_gmm

        res = evaluate_gmm(shadow, feature_dir, corpus, [set_name], system.graph, lexicon, set_name, [scale], beam)
    else:
        from avsr.hybrid.pipeline import evaluate_hybrid

        conf = {"members": list(system.members)} if system.members else {}
        res = evaluate_hybrid(conf, shadow, feature_dir, corpus, [set_name], system.graph, lexicon, set_name, [scale], beam, "cpu", 1)
    method = f"hclg_{system.graph.name.removeprefix('graph_')}_ac{scale:g}"
    return _hclg_result(system, method, set_name, res[set_name], shadow / f"score_{set_name}")


def decode_e2e(system: System, shadow: Path, data_dir: Path, corpus: str, set_name: str, beam: int = 4) -> list[DecodeResult]:
    """An E2E system through the E2E decode API (avsr.e2e.decode): the model's own search methods,
    and HLG 1-best through the GRID-grammar graph for CTC+attention models when the run built one."""
    from avsr.e2e.decode import SearchOptions
    from avsr.e2e.decode_jobs import decode_sets
    from avsr.train.data import FeatureCache, cuts_path, load_cuts

    from avsr.utils.config import load_yaml

    video_input = load_yaml(shadow / "config.yaml").get("frontend", {}).get("video_input", "pixels")  # what the model reads
    cache = {set_name: FeatureCache(load_cuts(cuts_path(data_dir, corpus, set_name)), desc=f"load {set_name}",
                                    video_input=video_input)}
    records = decode_sets(shadow, cache, None, None, system.avg, None, SearchOptions(beam=beam))
    if system.hlg is not None:  # words through the run's GRID-grammar graph: HLG (CTC) or LG (transducer)
        if system.hlg_kind == "hlg":
            graph_method, opts = "hlg_1best", SearchOptions(beam=beam, hlg_dir=str(system.hlg))
        else:
            graph_method, opts = "fst_beam", SearchOptions(beam=beam, lg_dir=str(system.hlg))
        records += decode_sets(shadow, cache, [graph_method], None, system.avg, None, opts)
    out = []
    for rec in records:
        if "wer" not in rec:  # a phone-output search (phone-unit models): no words to score
            logger.info("%s %s %s: phone outputs (PER %.2f), no %%WER line", system.name, rec["method"], set_name,
                        rec.get("per", float("nan")))
            continue
        decode_dir = shadow / f"decode_epoch{rec.get('epoch')}_avg{rec.get('avg', system.avg)}" / set_name / rec["method"]
        decode_dir = decode_dir if decode_dir.is_dir() else None
        try:
            line = (f"%WER {rec['wer']:.2f} [ {rec['errors']} / {rec['ref_words']}, {rec['ins']} ins, "
                    f"{rec['dels']} del, {rec['subs']} sub ]")
        except KeyError:  # a score record without the counts: the decoder's own %WER line
            line = (decode_dir / "wer").read_text().strip() if decode_dir else f"%WER {rec['wer']:.2f}"
        hyp = decode_dir / "hyp.txt" if decode_dir else ""
        out.append(DecodeResult(system.name, "e2e", system.modality, rec["method"], set_name, rec["wer"], line,
                                rec["num_utts"], str(hyp)))
    return out


def decode_exp(
    exp: PathLike,
    data_dir: PathLike,
    out_dir: PathLike,
    sets: Sequence[str] = ("test",),
    corpus: str = "grid",
    model_root: Optional[PathLike] = None,
    systems: Optional[Sequence[str]] = None,
    beam: float = 13.0,
    lexicon: Optional[PathLike] = None,
) -> list[DecodeResult]:
    """Decode ``<data_dir>/fbank/<corpus>_cuts_<set>.jsonl.gz`` for each set with every system of
    ``exp`` (or only ``systems``); returns one result per system x method x set and writes
    ``out_dir/results.txt`` (the %WER lines) and ``results.json`` (results, skipped systems and why).

    ``beam``: HCLG beam of the GMM/hybrid systems (13 = conf/gmm.yaml; an utterance with no
    surviving path is decoded again wider, then as empty = all deletions).
    """
    exp, data_dir, out_dir = Path(exp).resolve(), Path(data_dir).resolve(), Path(out_dir).resolve()
    root = Path(model_root).resolve() if model_root else exp.parent
    found, skipped = find_systems(exp, root)
    if systems is not None:
        unknown = sorted(set(systems) - {s.name for s in found} - set(skipped))
        if unknown:
            raise AvsrInputError(exp, f"no such system(s): {' '.join(unknown)}")
        found = [s for s in found if s.name in systems]
    if not found:
        raise AvsrInputError(exp, "no trained system found (mono, tri, hybrid_*, ctc_att_*, transducer_*)")
    if not any(s.family == "e2e" for s in found) and systems is None:
        skipped.setdefault("e2e", "no CTC+attention or transducer system in this exp dir")
    for name, why in skipped.items():
        logger.warning("not decoded: %s: %s", name, why)
    feature_dir = data_dir / "fbank"
    for s in sets:
        if not len(read_cut_manifest(feature_dir / f"{corpus}_cuts_{s}.jsonl.gz")):
            raise AvsrInputError(feature_dir / f"{corpus}_cuts_{s}.jsonl.gz", "no cuts to decode")
    lexicon = Path(lexicon).resolve() if lexicon else None
    results: list[DecodeResult] = []
    with working_dir(root):
        for system in found:
            shadow = shadow_model_dir(system.model_dir, out_dir / system.name)
            for set_name in sets:
                logger.info("decoding %s with %s (%s, %s)", set_name, system.name, system.family, system.modality)
                if system.family == "e2e":
                    results += decode_e2e(system, shadow, data_dir, corpus, set_name)
                else:
                    results.append(decode_hclg(system, shadow, feature_dir, corpus, set_name, lexicon, beam))
    write_text_atomic(out_dir / "results.txt", "".join(r.line() + "\n" for r in results))
    write_json_atomic(out_dir / "results.json", {
        "exp": str(exp), "data": str(data_dir), "sets": list(sets), "hclg_beam": beam, "skipped": skipped,
        "systems": [{"name": s.name, "family": s.family, "modality": s.modality, "graph": str(s.graph) if s.graph else None,
                     "members": list(s.members), "avg": s.avg, "hlg": str(s.hlg) if s.hlg else None} for s in found],
        "results": [asdict(r) for r in results]})
    return results
