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

    def memory_keys(self, memory: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Per layer, the cross-attention keys and values of ``memory`` [B, T, D] as heads
        [B, H, T, D/H]: what :meth:`step` attends to, computed once per utterance, not per step."""
        out = []
        for layer in self.layers.layers:
            mha = layer.multihead_attn
            out.append((_heads(_project(mha, memory, 1), mha.num_heads), _heads(_project(mha, memory, 2), mha.num_heads)))
        return out

    def step(self, memory_kv: list[tuple[Tensor, Tensor]], memory_mask: Tensor, tokens: Tensor,
             cache: Optional[list[tuple[Tensor, Tensor]]]) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """Incremental decoding for beam search (eval mode): logits [B, V] of the token after each
        prefix, given the prefixes' last tokens [B], :meth:`memory_keys` and ``cache`` (per layer,
        the self-attention keys and values of the earlier positions [B, H, U-1, D/H]; None at
        <sos>). The same function as :meth:`forward` at the prefix's last position; each position's
        keys are computed once, and the memory's once per utterance."""
        pos = 0 if cache is None else cache[0][0].shape[2]
        d = self.out.in_features
        x = self.embed(tokens)[:, None] + sinusoidal_positions(pos + 1, d, tokens.device)[pos]
        attend = memory_mask[:, None, None, :]  # True = a real frame (scaled_dot_product_attention's bool mask)
        new_cache = []
        for i, layer in enumerate(self.layers.layers):  # pre-norm TransformerDecoderLayer, one position
            sa, ca = layer.self_attn, layer.multihead_attn
            h = layer.norm1(x)  # the causal mask lets the new position see itself and every earlier one
            k, v = _heads(_project(sa, h, 1), sa.num_heads), _heads(_project(sa, h, 2), sa.num_heads)
            if cache is not None:
                k, v = torch.cat([cache[i][0], k], dim=2), torch.cat([cache[i][1], v], dim=2)
            new_cache.append((k, v))
            x = x + _attend(sa, _heads(_project(sa, h, 0), sa.num_heads), k, v, None)
            mk, mv = memory_kv[i]
            x = x + _attend(ca, _heads(_project(ca, layer.norm2(x), 0), ca.num_heads), mk, mv, attend)
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm3(x))))
        return self.out(self.layers.norm(x))[:, 0], new_cache


def _project(mha: nn.MultiheadAttention, x: Tensor, which: int) -> Tensor:
    """The query (0), key (1) or value (2) input projection of a batch-first MultiheadAttention."""
    d = mha.embed_dim
    return nn.functional.linear(x, mha.in_proj_weight[which * d:(which + 1) * d], mha.in_proj_bias[which * d:(which + 1) * d])


def _heads(x: Tensor, num_heads: int) -> Tensor:
    b, t, d = x.shape
    return x.view(b, t, num_heads, d // num_heads).transpose(1, 2)


def _attend(mha: nn.MultiheadAttention, q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor]) -> Tensor:
    """Heads [B, H, 1, D/H] attending over k, v → the module's output projection [B, 1, D]."""
    out = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    b, h, t, dh = out.shape
    return mha.out_proj(out.transpose(1, 2).reshape(b, t, h * dh))


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

    def attention_step(self, memory_kv: list[tuple[Tensor, Tensor]], enc_lengths: Tensor, tokens: Tensor,
                       cache: Optional[list[tuple[Tensor, Tensor]]]) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """One incremental decoder step over ``self.decoder.memory_keys(encodings)`` (see
        :meth:`AttentionDecoder.step`): next-token logits [B, V] and the new cache."""
        frames = memory_kv[0][0].shape[2]
        memory_mask = torch.arange(frames, device=tokens.device)[None, :] < enc_lengths[:, None]
        return self.decoder.step(memory_kv, memory_mask, tokens, cache)

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
