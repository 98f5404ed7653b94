"""Hybrid configs: conf/hybrid_<variant>.yaml with ``inherit:`` (a file next to it, merged
key by key) and model-dir references (init_towers, members) resolved under the exp dir."""
from __future__ import annotations

from pathlib import Path
from typing import Union

from avsr.utils.config import load_yaml

PathLike = Union[str, Path]


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_hybrid_conf(path: PathLike, exp_dir: PathLike = "exp") -> dict:
    path = Path(path)
    conf = load_yaml(path)
    parent = conf.pop("inherit", None)
    if parent:
        conf = _merge(load_hybrid_conf(path.parent / parent, exp_dir), conf)
    if isinstance(conf.get("init_towers"), dict):
        conf["init_towers"] = {k: (str(Path(exp_dir) / v) if v and not Path(v).is_absolute() else v) for k, v in conf["init_towers"].items()}
    if conf.get("members"):
        conf["members"] = [str(Path(exp_dir) / m) if not Path(m).is_absolute() else m for m in conf["members"]]
    return conf
