"""Hybrid DNN acoustic models of Mroueh, Marcheret & Goel (ICASSP 2015), in the paper's
notation [in, hidden..., C]: every variant maps (audio [B, Da], video [B, Dv]) spliced frames
to logits over C context-dependent states.

  audio / video      uni-modal net [D, h1, h2, h3, C]
  concat             one net on [audio; video]
  deep_fusion        the uni-modal nets' last hidden layers (frozen) concatenated, a net on top
  shallow_fusion     as deep_fusion with only the softmax on the fused space
  bilinear           two towers; logits_c = h_a^T W_c h_v + b_c  (BilinearSoftmax)
  factored           two towers; factored bilinear softmax, fusion dim F, CCA regulariser
  shared_factored    factored with the class factors shared among the states of one phone
                     (C x F -> G x F, G = base phones)

The bilinear layers are avsr.models.bilinear's; this module only builds towers around them.
Posterior averaging (bimodal + bilinear) is done at scoring time (avsr.hybrid.evaluate).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from avsr.models.bilinear import BilinearSoftmax, FactoredBilinearSoftmax, SharedFactoredBilinearSoftmax

VARIANTS = ("audio", "video", "concat", "deep_fusion", "shallow_fusion", "bilinear", "factored", "shared_factored")


@dataclass
class ModelConfig:
    variant: str
    audio_hidden: Sequence[int] = (500, 500, 200)
    video_hidden: Sequence[int] = (500, 500, 200)
    concat_hidden: Sequence[int] = (500, 500, 200)
    fusion_hidden: Sequence[int] = (500,)  # deep fusion: layers on the fused last hidden layers
    fusion_dim: int = 200  # F of the factored bilinear softmax
    unimodal_terms: bool = True
    activation: str = "relu"  # relu | sigmoid (the paper's era used sigmoids)
    dropout: float = 0.1
    extra: dict = field(default_factory=dict)


def mlp(dims: Sequence[int], activation: str, dropout: float) -> nn.Sequential:
    """Linear + nonlinearity (+ dropout) for each consecutive pair of ``dims``."""
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation]
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers += [nn.Linear(dims[i], dims[i + 1]), act()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class UnimodalNet(nn.Module):
    """[D, hidden..., C]; ``hidden(x)`` is the last hidden layer (what fusion variants use)."""

    def __init__(self, in_dim: int, hidden: Sequence[int], num_classes: int, activation: str, dropout: float) -> None:
        super().__init__()
        self.tower = mlp([in_dim, *hidden], activation, dropout)
        self.output = nn.Linear(hidden[-1], num_classes)
        self.hidden_dim = hidden[-1]

    def hidden(self, x: Tensor) -> Tensor:
        return self.tower(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.output(self.tower(x))


class HybridModel(nn.Module):
    """One class for every variant, so training, scoring and saving never branch on it."""

    def __init__(self, cfg: ModelConfig, audio_dim: int, video_dim: int, num_classes: int, group_of_class: Optional[Tensor] = None) -> None:
        super().__init__()
        if cfg.variant not in VARIANTS:
            raise ValueError(f"unknown variant {cfg.variant!r}; one of {VARIANTS}")
        self.cfg, self.variant, self.num_classes = cfg, cfg.variant, num_classes
        self.frozen_towers = False
        act, drop = cfg.activation, cfg.dropout
        v = cfg.variant
        if v == "audio":
            self.audio_net = UnimodalNet(audio_dim, cfg.audio_hidden, num_classes, act, drop)
        elif v == "video":
            self.video_net = UnimodalNet(video_dim, cfg.video_hidden, num_classes, act, drop)
        elif v == "concat":
            self.concat_net = UnimodalNet(audio_dim + video_dim, cfg.concat_hidden, num_classes, act, drop)
        else:
            self.audio_net = UnimodalNet(audio_dim, cfg.audio_hidden, num_classes, act, drop)
            self.video_net = UnimodalNet(video_dim, cfg.video_hidden, num_classes, act, drop)
            da, dv = cfg.audio_hidden[-1], cfg.video_hidden[-1]
            if v == "deep_fusion":
                self.fusion = nn.Sequential(mlp([da + dv, *cfg.fusion_hidden], act, drop), nn.Linear(cfg.fusion_hidden[-1], num_classes))
            elif v == "shallow_fusion":
                self.fusion = nn.Linear(da + dv, num_classes)
            elif v == "bilinear":
                self.fusion = BilinearSoftmax(da, dv, num_classes)
            elif v == "factored":
                self.fusion = FactoredBilinearSoftmax(da, dv, num_classes, cfg.fusion_dim, unimodal_terms=cfg.unimodal_terms)
            else:
                if group_of_class is None:
                    raise ValueError("shared_factored needs group_of_class (the base phone of every CD state)")
                self.fusion = SharedFactoredBilinearSoftmax(da, dv, group_of_class, cfg.fusion_dim, unimodal_terms=cfg.unimodal_terms)

    @property
    def uses_towers(self) -> bool:
        return self.variant not in ("audio", "video", "concat")

    def hidden_pair(self, audio: Tensor, video: Tensor) -> tuple[Tensor, Tensor]:
        return self.audio_net.hidden(audio), self.video_net.hidden(video)

    def forward(self, audio: Tensor, video: Tensor) -> Tensor:
        v = self.variant
        if v == "audio":
            return self.audio_net(audio)
        if v == "video":
            return self.video_net(video)
        if v == "concat":
            return self.concat_net(torch.cat([audio, video], dim=-1))
        h_a, h_v = self.hidden_pair(audio, video)
        if v in ("deep_fusion", "shallow_fusion"):
            return self.fusion(torch.cat([h_a, h_v], dim=-1))
        return self.fusion(h_a, h_v)

    def forward_with_regularization(self, audio: Tensor, video: Tensor) -> tuple[Tensor, Tensor]:
        """(logits, CCA penalty) from one pass through the towers (training uses this)."""
        if self.variant in ("factored", "shared_factored"):
            h_a, h_v = self.hidden_pair(audio, video)
            return self.fusion(h_a, h_v), self.fusion.regularization(h_a, h_v)
        return self(audio, video), torch.zeros((), device=audio.device)

    def regularization(self, audio: Tensor, video: Tensor) -> Tensor:
        """The factored layers' CCA penalty on this batch's hidden layers (0 otherwise)."""
        if self.variant in ("factored", "shared_factored"):
            h_a, h_v = self.hidden_pair(audio, video)
            return self.fusion.regularization(h_a, h_v)
        return torch.zeros((), device=audio.device)

    def load_towers(self, audio_state: Optional[dict], video_state: Optional[dict], freeze: bool) -> None:
        """Initialise the towers from trained uni-modal models (their ``audio_net.*`` /
        ``video_net.*`` state dicts) and optionally freeze them (deep/shallow fusion)."""
        for net, state, prefix in ((self.audio_net, audio_state, "audio_net."), (self.video_net, video_state, "video_net.")):
            if state is None:
                continue
            net.load_state_dict({k[len(prefix):]: t for k, t in state.items() if k.startswith(prefix)})
            if freeze:
                for p in net.parameters():
                    p.requires_grad_(False)
        self.frozen_towers = self.frozen_towers or freeze
        self.train(self.training)

    def train(self, mode: bool = True) -> "HybridModel":
        super().train(mode)
        if self.frozen_towers:  # frozen towers behave as at test time (no dropout)
            self.audio_net.eval()
            self.video_net.eval()
        return self
