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

from avsr.e2e.tokens import BpeTokenizer, Tokenizer, load_tokenizer, train_bpe, write_phone_tokens
from avsr.models.factory import build_model
from avsr.train.checkpoint import averaged_model_state, latest_epoch
from avsr.train.data import FeatureCache, cuts_path, load_cuts, utterance_tokenizer
from avsr.train.dev_score import DevScorer
from avsr.train.frame_labels import attach_aligned_phones, attach_frame_labels, pdf_classes, phone_classes
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
                   info: DistInfo, lang_dir: Optional[PathLike] = None) -> Tokenizer:
    """The experiment's tokenizer, written into ``exp_dir`` (``tokens.txt``, icefall style ``symbol
    id`` lines: the phone table of the lang the HLG is built from, plus ``tokens/``).

    ``tokens.unit: phone``: the non-silence phones of ``lang_dir`` (its lexicon is copied).
    ``tokens.unit: bpe``: ``bpe_model`` is the shared model (e.g. data/lang_bpe/bpe.model, so all
    systems and the HLG lang use the same pieces), trained there from the training text if missing
    (steps/train_bpe.py adds a word list); without it, trained into the experiment directory.
    Rank 0 writes; others wait.
    """
    unit = cfg.get("tokens", {}).get("unit", "bpe")
    if unit not in ("phone", "bpe"):
        raise AvsrInputError(None, f"config tokens.unit must be 'phone' or 'bpe', got {unit!r}")
    if unit == "phone":
        if lang_dir is None:
            raise AvsrInputError(None, "tokens.unit 'phone' needs a lang dir (--lang, e.g. data/lang_espeak)")
        if info.is_main:
            write_phone_tokens(lang_dir, exp_dir)
        barrier(info)
        return load_tokenizer(exp_dir)
    local = exp_dir / "tokens" / "bpe.model"
    if info.is_main:
        source = Path(bpe_model) if bpe_model else local
        vocab = int(cfg.get("tokens", {}).get("bpe_vocab_size", 64))
        if not source.is_file():
            train_bpe(train_texts, source, vocab)
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
              init_avg: int = 1, lang_dir: Optional[PathLike] = None,
              ali: Optional[PathLike] = None, dev_hlg: Optional[PathLike] = None,
              dev_lg: Optional[PathLike] = None, fusion_from: Optional[PathLike] = None) -> dict[str, Any]:
    """Resolve the config, write it to exp_dir/config.yaml, and train (resuming if checkpoints exist).
    ``init``: ``DIR:prefix,...`` specs (:class:`avsr.train.init_from.InitSpec`) whose parameters
    start the model (averaged over the source's last ``init_avg`` epochs); recorded in the config.
    ``lang_dir``: the lang of phone units (its phones.txt also numbers the auxiliary frame
    labels); ``ali``: an alignment archive of the training set (e.g. exp/tri/ali_train.npz) for
    the auxiliary frame cross-entropy (``train.aux_weight``). ``dev_hlg`` / ``dev_lg``: graphs for
    the per-epoch dev WER of the learning curves (avsr.train.dev_score). ``fusion_from``: an
    audio-only model whose front-end fusion this AV model starts from, so that it starts out
    computing what that model computes (AVFrontend.start_as_audio_model). Works in a torchrun
    DDP launch (every rank calls this)."""
    exp_dir = Path(exp_dir)
    cfg = resolve_config(conf, overrides)
    if init:
        cfg["init"] = [InitSpec.parse(text).to_dict() for text in init]
        cfg["init_avg"] = init_avg
    if fusion_from:
        cfg["init_fusion_from"] = str(fusion_from)
    cfg["data"] = {"dir": str(data_dir), "corpus": corpus, "train_set": train_set, "dev_set": dev_set}
    info, dev = init_distributed(device)
    train_cuts = load_cuts(cuts_path(data_dir, corpus, train_set))
    fusion = cfg["frontend"]["fusion"]  # models that read video refuse cut sets without it, by name
    train_opts = cfg.get("train", {})
    wants_noise = any(int((train_opts.get(k) or {}).get("from_epoch", 0)) > 0 for k in ("noise", "speed_perturb"))
    video_input = cfg["frontend"].get("video_input", "pixels")
    train_cache = FeatureCache(train_cuts, desc=f"load {train_set}", fusion=fusion,
                               source=cuts_path(data_dir, corpus, train_set), load_audio=wants_noise,
                               video_input=video_input)
    dev_cache = FeatureCache(_dev_subset(load_cuts(cuts_path(data_dir, corpus, dev_set)), cfg["train"].get("dev_max_utts", 0)),
                             desc=f"load {dev_set}", fusion=fusion, source=cuts_path(data_dir, corpus, dev_set),
                             video_input=video_input) if dev_set else None
    if ali is not None and lang_dir is not None:  # words-only supervisions: the pronunciations forced alignment chose
        phones_txt = Path(lang_dir) / "phones.txt"
        filled = attach_aligned_phones(train_cache, ali, phones_txt)
        dev_ali = Path(ali).with_name(f"ali_{dev_set}.npz") if dev_set else None
        if dev_cache is not None and dev_ali is not None:
            filled += attach_aligned_phones(dev_cache, dev_ali, phones_txt)
        if filled:
            log.info("phone targets of %d utterances taken from their forced alignments (%s)", filled, Path(ali).parent)
    if float(train_opts.get("aux_weight", 0) or 0) > 0 and int(train_opts.get("aux_until_epoch", 0) or 0) > 0:
        if ali is None or lang_dir is None:
            raise AvsrInputError(None, "train.aux_weight > 0 needs --ali (an alignment archive) and --lang")
        targets = train_opts.get("aux_targets", "phone")
        num_classes = pdf_classes(ali) if targets == "pdf" else phone_classes(Path(lang_dir) / "phones.txt")
        covered = attach_frame_labels(train_cache, ali, num_classes, targets)
        if covered == 0:
            raise AvsrInputError(ali, f"aligns none of the {len(train_cache)} training utterances")
        cfg["aux"] = {"num_classes": num_classes, "targets": targets, "alignments": str(ali)}
        log.info("auxiliary frame labels: %d of %d training utterances aligned (%s)", covered, len(train_cache), ali)
    saved = exp_dir / "config.yaml"
    if saved.is_file():
        old = yaml.safe_load(saved.read_text())
        if not _same_except_epochs(old, cfg):
            raise AvsrInputError(saved, "this experiment was started with a different config: use a new --exp-dir "
                                 "(or delete it to start over)")
    if info.is_main:
        exp_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(saved, yaml.safe_dump(cfg, sort_keys=False))
    tokenizer = prepare_tokens(cfg, exp_dir, [u.text for u in train_cache.utts.values()], bpe_model, info, lang_dir)
    seed_everything(int(cfg.get("train", {}).get("seed", 1234)))  # same initial weights on every run / rank
    model = build_model(cfg, tokenizer.vocab_size)
    model.frontend.set_normalisation(*train_cache.normalisation_stats())
    if cfg.get("init") and latest_epoch(exp_dir) is None:  # a resumed run loads its own checkpoint instead
        init_from(model, init_specs_from_config(cfg), int(cfg.get("init_avg", 1)))
    if cfg.get("init_fusion_from") and latest_epoch(exp_dir) is None:
        source = Path(cfg["init_fusion_from"])
        epoch = latest_epoch(source)
        if epoch is None:
            raise AvsrInputError(source, "no checkpoint to start the fusion from (train that model first)")
        avg = int(cfg.get("init_avg", 1))
        model.frontend.start_as_audio_model(averaged_model_state(source, epoch, min(avg, epoch)))
    if info.is_main:
        n = sum(p.numel() for p in model.parameters())
        log.info("%s: %s model, fusion %s, %d parameters, vocab %d, %d train utts, device %s, world size %d",
                 exp_dir, cfg["model"], cfg["frontend"]["fusion"], n, tokenizer.vocab_size, len(train_cache), dev,
                 info.world_size)
    scorer = DevScorer(dev_cache, tokenizer, dev_hlg, dev_lg) if dev_cache is not None and len(dev_cache) else None
    return train(model, cfg, exp_dir, train_cache, dev_cache, utterance_tokenizer(tokenizer), dev, info, scorer)
