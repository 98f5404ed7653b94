"""Hybrid CTC / attention model (Watanabe et al. 2017; Kim et al. 2017).

encoder = AV front-end + Conformer; a CTC head on the encoder; an autoregressive Transformer
decoder attending to the encoder. Training loss (summed over the batch's utterances; the loop
divides by the batch size):

    loss = λ · CTC + (1 − λ) · CE_label-smoothed(attention decoder)

with teacher forcing on ``<sos> y`` → ``y <eos>``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from avsr.models.conformer import ConformerConfig, sinusoidal_positions
from avsr.models.e2e_base import Batch, E2EEncoderModel, ctc_loss_sum, pad_targets
from avsr.models.frontend import FrontendConfig


@dataclass
class AttentionDecoderConfig:
    num_layers: int = 2
    num_heads: int = 4
    ffn_dim: int = 256
    dropout: float = 0.1


class AttentionDecoder(nn.Module):
    """Pre-norm Transformer decoder: token embedding + positions → logits [B, U, V]."""

    def __init__(self, vocab_size: int, d_model: int, cfg: AttentionDecoderConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        layer = nn.TransformerDecoderLayer(d_model, cfg.num_heads, cfg.ffn_dim, cfg.dropout, batch_first=True,
                                           norm_first=True)
        self.layers = nn.TransformerDecoder(layer, cfg.num_layers, norm=nn.LayerNorm(d_model))
        self.out = nn.Linear(d_model, vocab_size)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, memory: Tensor, memory_mask: Tensor, ys_in: Tensor, ys_mask: Optional[Tensor] = None) -> Tensor:
        """memory [B, T, D] with valid mask [B, T]; ys_in [B, U] token ids; ys_mask [B, U] valid."""
        u = ys_in.shape[1]
        x = self.embed(ys_in) + sinusoidal_positions(u, memory.shape[2], memory.device)
        causal = torch.triu(torch.ones(u, u, dtype=torch.bool, device=memory.device), diagonal=1)  # True = masked
        h = self.layers(self.dropout(x), memory, tgt_mask=causal,
                        tgt_key_padding_mask=None if ys_mask is None else ~ys_mask,
                        memory_key_padding_mask=~memory_mask)
        return self.out(h)


@dataclass
class CtcAttentionConfig:
    ctc_weight: float = 0.3
    label_smoothing: float = 0.1


class CtcAttentionModel(E2EEncoderModel):
    """AV front-end + Conformer encoder + CTC head + attention decoder; blank 0, sos = eos = 1."""

    def __init__(self, vocab_size: int, frontend: FrontendConfig, encoder: ConformerConfig,
                 decoder: AttentionDecoderConfig, loss: CtcAttentionConfig, blank_id: int = 0, sos_id: int = 1,
                 eos_id: int = 1, aux_classes: int = 0) -> None:
        super().__init__(vocab_size, frontend, encoder, blank_id, aux_classes)
        self.decoder = AttentionDecoder(vocab_size, encoder.d_model, decoder)
        self.loss_cfg = loss
        self.sos_id, self.eos_id = sos_id, eos_id

    def decoder_inputs(self, tokens: list[list[int]], device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        """Teacher forcing: ys_in = <sos> y (padded eos), ys_out = y <eos> (padded −1), valid mask."""
        ys_in, lengths = pad_targets([[self.sos_id] + t for t in tokens], self.eos_id, device)
        ys_out, _ = pad_targets([t + [self.eos_id] for t in tokens], -1, device)
        mask = torch.arange(ys_in.shape[1], device=device)[None, :] < lengths[:, None]
        return ys_in, ys_out, mask

    def attention_logits(self, encodings: Tensor, enc_lengths: Tensor, ys_in: Tensor,
                         ys_mask: Optional[Tensor] = None) -> Tensor:
        memory_mask = torch.arange(encodings.shape[1], device=encodings.device)[None, :] < enc_lengths[:, None]
        return self.decoder(encodings, memory_mask, ys_in, ys_mask)

    def forward(self, batch: Batch, drop: Optional[str] = None) -> tuple[Tensor, dict[str, float]]:
        """→ (λ·CTC + (1−λ)·attention, summed over utterances; per-part sums for logging)."""
        enc, lengths = self.encode(batch, drop)
        ctc = ctc_loss_sum(self.ctc_log_probs(enc), lengths, batch.tokens, self.blank_id)
        ys_in, ys_out, ys_mask = self.decoder_inputs(batch.tokens, enc.device)
        logits = self.attention_logits(enc, lengths, ys_in, ys_mask)
        att = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ys_out.reshape(-1), ignore_index=-1,
                                          label_smoothing=self.loss_cfg.label_smoothing, reduction="sum")
        with torch.no_grad():
            correct = ((logits.argmax(-1) == ys_out) & ys_mask).sum().item()
        lam = self.loss_cfg.ctc_weight
        loss = lam * ctc + (1.0 - lam) * att
        info = {"ctc": float(ctc.detach()), "att": float(att.detach()), "att_correct": float(correct),
                "att_tokens": float(ys_mask.sum().item())}
        return self.add_aux_loss(loss, enc, batch, info), info
