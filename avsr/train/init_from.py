"""Initialise parts of a new E2E model from trained ones (auto_avsr / ESPnet ``init_param`` style).

An audio-visual model starts from the audio-only model's audio branch and encoder and the
video-only model's visual branch; a transducer can start from the CTC+attention model's front-end
and encoder. Only the new parts (the fusion layer, a new decoder) then start from random weights,
which is what makes the AV and transducer systems trainable in the default run's time budget.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Union

from torch import nn

from avsr.train.checkpoint import averaged_model_state, latest_epoch
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InitSpec:
    """Copy the parameters whose names start with one of ``prefixes`` from the model in ``exp_dir``."""

    exp_dir: str
    prefixes: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "InitSpec":
        """``DIR:prefix1,prefix2`` (e.g. ``exp/ctc_att_a:frontend.audio.,encoder.``)."""
        directory, sep, prefixes = text.rpartition(":")
        names = tuple(p for p in prefixes.split(",") if p)
        if not sep or not directory or not names:
            raise AvsrInputError(None, f"--init-from {text!r}: expected DIR:prefix[,prefix...]")
        return cls(directory, names)

    def to_dict(self) -> dict:
        return {"exp_dir": self.exp_dir, "prefixes": list(self.prefixes)}


def init_from(model: nn.Module, specs: Iterable[InitSpec], avg: int = 1) -> list[str]:
    """Load the named parameters (the average of the source's last ``avg`` epochs) into ``model``.

    Every prefix must match at least one parameter in both models with the same shapes: a silent
    partial copy would make a comparison meaningless. Returns the names that were copied."""
    own = model.state_dict()
    copied: list[str] = []
    for spec in specs:
        source = Path(spec.exp_dir)
        epoch = latest_epoch(source)
        if epoch is None:
            raise AvsrInputError(source, "no checkpoint to initialise from (train that model first)")
        theirs = averaged_model_state(source, epoch, min(avg, epoch))
        for prefix in spec.prefixes:
            names = [n for n in theirs if n.startswith(prefix)]
            if not names or not any(n.startswith(prefix) for n in own):
                raise AvsrInputError(source, f"no parameters named {prefix}* in both models")
            for name in names:
                if name not in own:
                    raise AvsrInputError(source, f"{name} has no counterpart in the new model")
                if own[name].shape != theirs[name].shape:
                    raise AvsrInputError(source, f"{name}: shape {tuple(theirs[name].shape)} != {tuple(own[name].shape)}")
                own[name] = theirs[name].to(own[name].dtype)
                copied.append(name)
        log.info("initialised %s from %s (epoch %d, avg %d)", ",".join(spec.prefixes), source, epoch, min(avg, epoch))
    model.load_state_dict(own)
    return copied


def init_specs_from_config(cfg: dict) -> list[InitSpec]:
    return [InitSpec(d["exp_dir"], tuple(d["prefixes"])) for d in cfg.get("init", []) or []]
