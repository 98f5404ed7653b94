"""A small Conformer encoder (Gulati et al. 2020) sized for CPU training.

Block: ½·FFN → multi-head self-attention → convolution module → ½·FFN → LayerNorm, each with a
residual. Deviations from the paper, chosen for small CPU runs and exact DDP equivalence:
absolute sinusoidal positions (added once at the input) instead of relative ones, and
LayerNorm instead of BatchNorm in the convolution module (batch statistics would make a
frame's output depend on the rest of the batch).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from avsr.models.frontend import lengths_to_mask


@dataclass
class ConformerConfig:
    d_model: int = 128
    num_heads: int = 4
    ffn_dim: int = 256
    num_layers: int = 4
    kernel_size: int = 15
    dropout: float = 0.1


def sinusoidal_positions(length: int, dim: int, device: torch.device) -> Tensor:
    """[length, dim] sine/cosine position table (Vaswani et al.)."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.SiLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvModule(nn.Module):
    """LN → pointwise (2d) → GLU → depthwise conv over time → LN → SiLU → pointwise → dropout."""

    def __init__(self, dim: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd")
        self.norm_in = nn.LayerNorm(dim)
        self.pointwise_in = nn.Linear(dim, 2 * dim)
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm_mid = nn.LayerNorm(dim)
        self.pointwise_out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = nn.functional.glu(self.pointwise_in(self.norm_in(x)), dim=-1)
        h = h * mask[..., None]  # padding must not leak into valid frames through the kernel
        h = self.depthwise(h.transpose(1, 2)).transpose(1, 2)
        h = self.pointwise_out(nn.functional.silu(self.norm_mid(h)))
        return self.dropout(h)


class ConformerBlock(nn.Module):
    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        self.ff1 = FeedForward(cfg.d_model, cfg.ffn_dim, cfg.dropout)
        self.norm_att = nn.LayerNorm(cfg.d_model)
        self.attention = nn.MultiheadAttention(cfg.d_model, cfg.num_heads, dropout=cfg.dropout, batch_first=True)
        self.dropout = nn.Dropout(cfg.dropout)
        self.conv = ConvModule(cfg.d_model, cfg.kernel_size, cfg.dropout)
        self.ff2 = FeedForward(cfg.d_model, cfg.ffn_dim, cfg.dropout)
        self.norm_out = nn.LayerNorm(cfg.d_model)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x + 0.5 * self.ff1(x)
        h = self.norm_att(x)
        h, _ = self.attention(h, h, h, key_padding_mask=~mask, need_weights=False)
        x = x + self.dropout(h)
        x = x + self.conv(x, mask)
        x = x + 0.5 * self.ff2(x)
        return self.norm_out(x) * mask[..., None]


class ConformerEncoder(nn.Module):
    """[B, T, D] features and lengths → [B, T, D] encodings (padding zeroed)."""

    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.input_dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(ConformerBlock(cfg) for _ in range(cfg.num_layers))

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        mask = lengths_to_mask(lengths, x.shape[1])
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device)
        x = self.input_dropout(x) * mask[..., None]
        for layer in self.layers:
            x = layer(x, mask)
        return x
