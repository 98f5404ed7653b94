"""Build an E2E model from a config mapping (conf/ctc_attention*.yaml, conf/transducer*.yaml).

Config layout::

    model: ctc_attention | transducer
    frontend: {fusion, audio_dim, video_dim, output_dim, bilinear_rank, modality_dropout, ...}
    encoder: {d_model, num_heads, ffn_dim, num_layers, kernel_size, dropout}
    decoder: {num_layers, num_heads, ffn_dim, dropout}          # ctc_attention
    loss: {ctc_weight, label_smoothing}                          # ctc_attention
    transducer: {predictor_dim, context_size, joiner_dim, ctc_weight, loss_backend, predictor_dropout}
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping, Type, TypeVar

from torch import nn

from avsr.models.conformer import ConformerConfig
from avsr.models.ctc_attention import AttentionDecoderConfig, CtcAttentionConfig, CtcAttentionModel
from avsr.models.frontend import FrontendConfig
from avsr.models.transducer import TransducerConfig, TransducerModel
from avsr.utils.errors import AvsrInputError

MODEL_TYPES = ("ctc_attention", "transducer")
T = TypeVar("T")


def dataclass_from(cls: Type[T], values: Mapping[str, Any] | None, where: str) -> T:
    """Build a config dataclass, naming unknown keys instead of ignoring them."""
    values = dict(values or {})
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise AvsrInputError(None, f"config section {where!r}: unknown key(s) {unknown}; known: {sorted(known)}")
    return cls(**values)


def build_model(cfg: Mapping[str, Any], vocab_size: int) -> nn.Module:
    kind = cfg.get("model")
    if kind not in MODEL_TYPES:
        raise AvsrInputError(None, f"config 'model' must be one of {MODEL_TYPES}, got {kind!r}")
    frontend = dataclass_from(FrontendConfig, cfg.get("frontend"), "frontend")
    encoder = dataclass_from(ConformerConfig, cfg.get("encoder"), "encoder")
    aux_classes = int((cfg.get("aux") or {}).get("num_classes", 0))  # set by the trainer from the alignments
    if kind == "ctc_attention":
        return CtcAttentionModel(vocab_size, frontend, encoder,
                                 dataclass_from(AttentionDecoderConfig, cfg.get("decoder"), "decoder"),
                                 dataclass_from(CtcAttentionConfig, cfg.get("loss"), "loss"), aux_classes=aux_classes)
    return TransducerModel(vocab_size, frontend, encoder,
                           dataclass_from(TransducerConfig, cfg.get("transducer"), "transducer"), aux_classes=aux_classes)
