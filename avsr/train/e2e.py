"""Train an E2E model on the stage-3 cuts: config resolution, tokens, caches, model, loop.

``exp_dir`` layout: ``config.yaml`` (resolved), ``tokens/bpe.model``, ``epoch-N.pt``, ``log/``.
"""
from __future__ import annotations

import copy
import shutil
import logging
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import yaml

from avsr.data.grammar import grid_vocabulary
from avsr.e2e.tokens import BpeTokenizer, train_bpe
from avsr.models.factory import build_model
from avsr.train.checkpoint import latest_epoch
from avsr.train.data import FeatureCache, cuts_path, load_cuts
from avsr.train.distributed import DistInfo, barrier, init_distributed
from avsr.train.init_from import InitSpec, init_from, init_specs_from_config
from avsr.train.loop import seed_everything, train
from avsr.utils.config import load_yaml
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path, write_text_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


def set_by_path(cfg: dict[str, Any], dotted: str, value: Any) -> None:
    """``set_by_path(cfg, "train.epochs", 3)``; values from the command line are parsed as YAML."""
    keys = dotted.split(".")
    node = cfg
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise AvsrInputError(None, f"--set {dotted}: {k!r} is not a section")
    if isinstance(value, str):
        value = yaml.safe_load(value)
        if isinstance(value, str):  # YAML 1.1 reads "5e-3" as a string
            try:
                value = float(value)
            except ValueError:
                pass
    node[keys[-1]] = value


def resolve_config(conf: PathLike, overrides: Iterable[str] = ()) -> dict[str, Any]:
    cfg = copy.deepcopy(load_yaml(conf))
    for item in overrides:
        if "=" not in item:
            raise AvsrInputError(conf, f"override {item!r} must look like section.key=value")
        key, value = item.split("=", 1)
        set_by_path(cfg, key.strip(), value)
    return cfg


RESUME_FREE_KEYS = ("epochs", "num_threads", "dev_max_duration", "dev_max_utts")  # may change between runs of one experiment


def _same_except_epochs(a: dict[str, Any], b: dict[str, Any]) -> bool:
    a, b = copy.deepcopy(a), copy.deepcopy(b)
    for c in (a, b):
        for key in RESUME_FREE_KEYS:
            c.get("train", {}).pop(key, None)
        c.pop("data", None)
    return a == b


def prepare_tokens(cfg: dict[str, Any], exp_dir: Path, train_texts: list[str], bpe_model: Optional[PathLike],
                   info: DistInfo) -> BpeTokenizer:
    """The experiment's token model: ``exp_dir/tokens/bpe.model`` plus ``exp_dir/tokens.txt``
    (``piece id`` lines, icefall style: the phone table for a BPE lang/HLG).

    ``bpe_model``: shared model path (e.g. data/lang_bpe/bpe.model, so all systems and the HLG
    lang use the same pieces); trained there from the training text + GRID words if missing.
    Without it, the model is trained into the experiment directory. Rank 0 writes; others wait.
    """
    local = exp_dir / "tokens" / "bpe.model"
    if info.is_main:
        source = Path(bpe_model) if bpe_model else local
        vocab = int(cfg.get("tokens", {}).get("bpe_vocab_size", 64))
        if not source.is_file():
            train_bpe(train_texts, source, vocab, extra_words=grid_vocabulary())
        if source != local:
            with atomic_path(local) as tmp:
                shutil.copyfile(source, tmp)
        tokenizer = BpeTokenizer(local)
        write_text_atomic(exp_dir / "tokens.txt", "".join(f"{p} {i}\n" for i, p in enumerate(tokenizer.pieces())))
    barrier(info)
    return BpeTokenizer(local)


def _dev_subset(cuts, max_utts: int):
    """At most ``max_utts`` cuts spread evenly over the sorted ids (every speaker keeps a share)."""
    ids = sorted(c.id for c in cuts)
    if not max_utts or len(ids) <= max_utts:
        return cuts
    step = len(ids) / max_utts
    return cuts.subset(cut_ids=[ids[int(i * step)] for i in range(max_utts)])


def train_e2e(conf: PathLike, exp_dir: PathLike, data_dir: PathLike, corpus: str = "synthetic_grid",
              train_set: str = "train", dev_set: Optional[str] = "dev", overrides: Iterable[str] = (),
              device: str = "auto", bpe_model: Optional[PathLike] = None, init: Sequence[str] = (),
              init_avg: int = 1) -> dict[str, Any]:
    """Resolve the config, write it to exp_dir/config.yaml, and train (resuming if checkpoints exist).
    ``init``: ``DIR:prefix,...`` specs (:class:`avsr.train.init_from.InitSpec`) whose parameters
    start the model (averaged over the source's last ``init_avg`` epochs); recorded in the config.
    Works in a torchrun DDP launch (every rank calls this)."""
    exp_dir = Path(exp_dir)
    cfg = resolve_config(conf, overrides)
    if init:
        cfg["init"] = [InitSpec.parse(text).to_dict() for text in init]
        cfg["init_avg"] = init_avg
    cfg["data"] = {"dir": str(data_dir), "corpus": corpus, "train_set": train_set, "dev_set": dev_set}
    info, dev = init_distributed(device)
    saved = exp_dir / "config.yaml"
    if saved.is_file():
        old = yaml.safe_load(saved.read_text())
        if not _same_except_epochs(old, cfg):
            raise AvsrInputError(saved, "this experiment was started with a different config: use a new --exp-dir "
                                 "(or delete it to start over)")
    train_cuts = load_cuts(cuts_path(data_dir, corpus, train_set))
    fusion = cfg["frontend"]["fusion"]  # models that read video refuse cut sets without it, by name
    train_cache = FeatureCache(train_cuts, desc=f"load {train_set}", fusion=fusion,
                               source=cuts_path(data_dir, corpus, train_set))
    dev_cache = FeatureCache(_dev_subset(load_cuts(cuts_path(data_dir, corpus, dev_set)), cfg["train"].get("dev_max_utts", 0)),
                             desc=f"load {dev_set}", fusion=fusion, source=cuts_path(data_dir, corpus, dev_set)) if dev_set else None
    if info.is_main:
        exp_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(saved, yaml.safe_dump(cfg, sort_keys=False))
    tokenizer = prepare_tokens(cfg, exp_dir, [u.text for u in train_cache.utts.values()], bpe_model, info)
    seed_everything(int(cfg.get("train", {}).get("seed", 1234)))  # same initial weights on every run / rank
    model = build_model(cfg, tokenizer.vocab_size)
    model.frontend.set_normalisation(*train_cache.normalisation_stats())
    if cfg.get("init") and latest_epoch(exp_dir) is None:  # a resumed run loads its own checkpoint instead
        init_from(model, init_specs_from_config(cfg), int(cfg.get("init_avg", 1)))
    if info.is_main:
        n = sum(p.numel() for p in model.parameters())
        log.info("%s: %s model, fusion %s, %d parameters, vocab %d, %d train utts, device %s, world size %d",
                 exp_dir, cfg["model"], cfg["frontend"]["fusion"], n, tokenizer.vocab_size, len(train_cache), dev,
                 info.world_size)
    return train(model, cfg, exp_dir, train_cache, dev_cache, tokenizer.encode, dev, info)
