"""GMM-HMM model files without pickle: ``final.json`` (structure: kind, topology text or
decision tree, self-loop probabilities, feature config) + ``final.npz`` (arrays: the Gaussians,
the transition log-probabilities). Loading runs no code from the file, unlike the pickles
(``final.pkl``) these replace; a pickle found in place of them is refused with a message.

final.json  {"format": "avsr-gmm-hmm/1", "kind": "mono" | "tri", "num_pdfs", "dim",
             "feature_config", "arrays": "final.npz", "arrays_sha256",
             mono: "topo" (Kaldi topology text); tri: "tree" (DecisionTree.to_dict),
             "self_loop": [[phone, state, p], ...], "phone_states": [[phone, n], ...]}
final.npz   gmm_num_gauss [P] int64, gmm_weights [G], gmm_inv_vars [G, D], gmm_means_invvars [G, D]
            (float32, Kaldi's own DiagGmm parameters, so a load is bit-exact);
            mono also transition_log_probs, transition_non_self_loop_log_probs (float32)

A monophone TransitionModel is rebuilt from the topology and gets the saved probabilities;
the ContextDependency of a monophone system is a function of the topology.
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Union

import kaldi_hmm_gmm as khg  # before kaldilm/kaldifst-heavy imports (import-order hang, deps.md)
import numpy as np

from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path, file_sha256, write_text_atomic

PathLike = Union[str, Path]
MODEL_FILE = "final.json"
ARRAYS_FILE = "final.npz"
FORMAT = "avsr-gmm-hmm/1"
LEGACY_FILE = "final.pkl"


def am_to_arrays(am) -> dict[str, np.ndarray]:
    """An AmDiagGmm as flat arrays (DiagGmm's weights, inv_vars, means_invvars per pdf)."""
    counts, weights, inv_vars, means_invvars = [], [], [], []
    for j in range(am.num_pdfs):
        w, iv, mi = am.get_pdf(j).__getstate__()  # kaldi-hmm-gmm's (weights, inv_vars, means_invvars)
        counts.append(len(w))
        weights.append(np.asarray(w, np.float32))
        inv_vars.append(np.asarray(iv, np.float32))
        means_invvars.append(np.asarray(mi, np.float32))
    return {"gmm_num_gauss": np.asarray(counts, np.int64), "gmm_weights": np.concatenate(weights),
            "gmm_inv_vars": np.concatenate(inv_vars), "gmm_means_invvars": np.concatenate(means_invvars)}


def am_from_arrays(arrays, source: PathLike):
    """The AmDiagGmm of :func:`am_to_arrays` (gconsts recomputed by kaldi-hmm-gmm)."""
    counts = np.asarray(arrays["gmm_num_gauss"], np.int64)
    w, iv, mi = (np.asarray(arrays[k], np.float32) for k in ("gmm_weights", "gmm_inv_vars", "gmm_means_invvars"))
    if counts.sum() != len(w) or iv.shape != mi.shape or len(iv) != len(w) or iv.ndim != 2:
        raise AvsrInputError(source, "inconsistent Gaussian arrays (gmm_num_gauss vs weights/means/variances)")
    am = khg.AmDiagGmm()
    start = 0
    for n in counts.tolist():
        gmm = khg.DiagGmm.__new__(khg.DiagGmm)
        gmm.__setstate__((w[start:start + n].copy(), iv[start:start + n].copy(), mi[start:start + n].copy()))
        am.add_pdf(gmm)
        start += n
    return am


def _monophone_transition_model(topo_text: str):
    topo = khg.HmmTopology()
    topo.read(topo_text)
    ctx_dep = khg.monophone_context_dependency(topo.phones, topo.get_phone_to_num_pdf_classes())
    return khg.TransitionModel(ctx_dep, topo), ctx_dep


def _with_probs(tm, log_probs: np.ndarray, non_self_loop: np.ndarray):
    """A copy of ``tm`` with other transition probabilities (the state tuple's last two fields)."""
    state = list(tm.__getstate__())
    if len(state) != 8 or len(state[6]) != len(log_probs) or len(state[7]) != len(non_self_loop):
        raise ValueError("unexpected TransitionModel layout: check the kaldi-hmm-gmm version")
    state[6], state[7] = [float(x) for x in log_probs], [float(x) for x in non_self_loop]
    out = khg.TransitionModel.__new__(khg.TransitionModel)
    out.__setstate__(tuple(state))
    return out


def _structure(tm) -> list:
    state = tm.__getstate__()
    return [[t.__getstate__() for t in state[0]], *state[2:6]]


def save_gmm_model(model, path: PathLike) -> None:
    """Write ``path`` (final.json) and the arrays next to it (final.npz), each atomically; the
    json, written last, names the npz's sha256 so a half-replaced pair is detected on load."""
    from avsr.hmm.tri import TriphoneModel

    path = Path(path)
    arrays = am_to_arrays(model.am)
    meta: dict = {"format": FORMAT, "num_pdfs": int(model.num_pdfs), "dim": int(model.am.dim),
                  "feature_config": model.feature_config}
    if isinstance(model, TriphoneModel):
        meta.update(kind="tri", tree=model.tree.to_dict(),
                    self_loop=[[int(p), int(s), float(v)] for (p, s), v in sorted(model.self_loop.items())],
                    phone_states=[[int(p), int(n)] for p, n in sorted(model.phone_states.items())])
    else:
        if not getattr(model, "topo_text", ""):
            raise ValueError("a monophone model needs its topology text (GmmHmm.topo_text) to be saved")
        fresh, _ = _monophone_transition_model(model.topo_text)
        if _structure(fresh) != _structure(model.transition_model):
            raise ValueError("the transition model is not the monophone one of its topology: cannot be saved")
        state = model.transition_model.__getstate__()
        arrays["transition_log_probs"] = np.asarray(state[6], np.float32)
        arrays["transition_non_self_loop_log_probs"] = np.asarray(state[7], np.float32)
        meta.update(kind="mono", topo=model.topo_text)
    npz_path = path.with_name(path.stem + ".npz")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with atomic_path(npz_path) as tmp:
        tmp.write_bytes(buf.getvalue())
    meta.update(arrays=npz_path.name, arrays_sha256=file_sha256(npz_path))
    write_text_atomic(path, json.dumps(meta, indent=1) + "\n")


def model_file(model_dir: PathLike) -> Path:
    """``model_dir/final.json``; a legacy pickle there instead is refused by name."""
    model_dir = Path(model_dir)
    path = model_dir / MODEL_FILE
    if not path.is_file():
        if (model_dir / LEGACY_FILE).is_file():
            raise AvsrInputError(model_dir / LEGACY_FILE, "pickle model files are no longer read (loading one can run "
                                 "arbitrary code): re-run stage 6 (steps/train_gmm.py) to write final.json + final.npz")
        raise AvsrInputError(path, "model does not exist: run stage 6")
    return path


def read_meta(path: PathLike) -> dict:
    path = Path(path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise AvsrInputError(path, f"unreadable model file ({err})") from None
    if meta.get("format") != FORMAT or meta.get("kind") not in ("mono", "tri"):
        raise AvsrInputError(path, f"not a {FORMAT} model file (format {meta.get('format')!r}, kind {meta.get('kind')!r})")
    return meta


def model_kind(model_dir: PathLike) -> str:
    """"mono" or "tri" for a model dir."""
    return read_meta(model_file(model_dir))["kind"]


def load_gmm_model(path: PathLike):
    """GmmHmm (mono) or TriphoneModel (tri) from a final.json path or its model dir."""
    from avsr.hmm.mono import GmmHmm
    from avsr.hmm.tree import DecisionTree
    from avsr.hmm.tri import TriphoneModel

    path = Path(path)
    if path.is_dir() or not path.name.endswith(".json"):
        path = model_file(path if path.is_dir() else path.parent)
    meta = read_meta(path)
    npz_path = path.parent / meta.get("arrays", ARRAYS_FILE)
    if not npz_path.is_file():
        raise AvsrInputError(npz_path, f"missing: {path.name} names it as its arrays")
    if meta.get("arrays_sha256") and file_sha256(npz_path) != meta["arrays_sha256"]:
        raise AvsrInputError(npz_path, f"does not match {path.name} (sha256 differs): re-run stage 6")
    with np.load(npz_path, allow_pickle=False) as arrays:
        data = {k: arrays[k] for k in arrays.files}
    am = am_from_arrays(data, npz_path)
    if am.num_pdfs != meta["num_pdfs"]:
        raise AvsrInputError(npz_path, f"{am.num_pdfs} pdfs, {path.name} says {meta['num_pdfs']}")
    if meta["kind"] == "tri":
        tree = DecisionTree.from_dict(meta["tree"])
        self_loop = {(int(p), int(s)): float(v) for p, s, v in meta["self_loop"]}
        phone_states = {int(p): int(n) for p, n in meta["phone_states"]}
        return TriphoneModel(tree, am, self_loop, phone_states, meta.get("feature_config", {}))
    fresh, ctx_dep = _monophone_transition_model(meta["topo"])
    tm = _with_probs(fresh, data["transition_log_probs"], data["transition_non_self_loop_log_probs"])
    return GmmHmm(tm, ctx_dep, am, meta.get("feature_config", {}), meta["topo"])
