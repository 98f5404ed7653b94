"""Transducer with a stateless prediction network (Ghodsi et al. 2020; icefall's "stateless"
decoder): the predictor sees only the last ``context_size`` emitted tokens (embedding + a
depthwise 1-D convolution over them), the joiner adds projected encoder and predictor vectors,
applies tanh and maps to the vocabulary. Loss: avsr.models.rnnt_loss (torch by default;
torchaudio / k2 behind the same option), plus an optional CTC auxiliary loss on the encoder.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from avsr.models.conformer import ConformerConfig
from avsr.models.e2e_base import Batch, E2EEncoderModel, ctc_loss_sum, pad_targets
from avsr.models.frontend import FrontendConfig
from avsr.models.rnnt_loss import rnnt_loss
from avsr.utils.errors import AvsrInputError


@dataclass
class TransducerConfig:
    predictor_dim: int = 128
    context_size: int = 2
    joiner_dim: int = 128
    ctc_weight: float = 0.0  # > 0 adds λ·CTC to the RNN-T loss
    loss_backend: str = "torch"  # torch | torchaudio | k2
    predictor_dropout: float = 0.0  # dropout on the predictor output while training (a small corpus: the
    # predictor can learn which letter follows which preposition in its few training sentences)

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.predictor_dropout) < 1.0:
            raise AvsrInputError(None, f"transducer.predictor_dropout must be in [0, 1), got {self.predictor_dropout}")


class StatelessPredictor(nn.Module):
    """Embedding of the last ``context_size`` tokens (blank pads the left) → [B, U, D]."""

    def __init__(self, vocab_size: int, dim: int, context_size: int, blank_id: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.context_size, self.blank_id = context_size, blank_id
        self.conv = (nn.Conv1d(dim, dim, context_size, groups=dim, bias=False) if context_size > 1 else None)
        # No parameters either way: checkpoints and ONNX export are unchanged; Identity at 0 so that a
        # model without it draws no random numbers for it (same numbers as before the option existed).
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, y: Tensor, left_padded: bool = False) -> Tensor:
        """y [B, U] token ids, −1 = "no token" (zero embedding). Unless ``left_padded`` (y already
        starts with context_size − 1 context tokens, as in search, where the start context is
        ``[−1] * (c − 1) + [blank]``), zeros are prepended so output u depends on y[u−c+1..u]."""
        emb = self.embed(y.clamp(min=0)) * (y >= 0).unsqueeze(-1)
        if self.conv is None:
            return self.dropout(torch.relu(emb))
        if not left_padded:
            emb = nn.functional.pad(emb, (0, 0, self.context_size - 1, 0))  # same as −1 tokens
        return self.dropout(torch.relu(self.conv(emb.transpose(1, 2)).transpose(1, 2)))


class Joiner(nn.Module):
    def __init__(self, enc_dim: int, pred_dim: int, joiner_dim: int, vocab_size: int) -> None:
        super().__init__()
        self.enc_proj = nn.Linear(enc_dim, joiner_dim)
        self.pred_proj = nn.Linear(pred_dim, joiner_dim)
        self.out = nn.Linear(joiner_dim, vocab_size)

    def forward(self, enc: Tensor, pred: Tensor, projected: bool = False) -> Tensor:
        """Broadcasting join: enc [..., Je or De] + pred [..., Jp or Dp] → logits [..., V]."""
        if not projected:
            enc, pred = self.enc_proj(enc), self.pred_proj(pred)
        return self.out(torch.tanh(enc + pred))


class TransducerModel(E2EEncoderModel):
    """AV front-end + Conformer + stateless predictor + joiner (+ CTC head for the auxiliary loss)."""

    def __init__(self, vocab_size: int, frontend: FrontendConfig, encoder: ConformerConfig, cfg: TransducerConfig,
                 blank_id: int = 0, aux_classes: int = 0) -> None:
        super().__init__(vocab_size, frontend, encoder, blank_id, aux_classes)
        self.cfg = cfg
        self.predictor = StatelessPredictor(vocab_size, cfg.predictor_dim, cfg.context_size, blank_id, cfg.predictor_dropout)
        self.joiner = Joiner(encoder.d_model, cfg.predictor_dim, cfg.joiner_dim, vocab_size)

    def predictor_inputs(self, tokens: list[list[int]], device: torch.device) -> Tensor:
        """[B, U+1]: blank (start) then the targets; position u predicts after u tokens."""
        y, _ = pad_targets([[self.blank_id] + t for t in tokens], self.blank_id, device)
        return y

    def forward(self, batch: Batch, drop: Optional[str] = None) -> tuple[Tensor, dict[str, float]]:
        enc, lengths = self.encode(batch, drop)
        pred = self.predictor(self.predictor_inputs(batch.tokens, enc.device))  # [B, U+1, Dp]
        logits = self.joiner(enc[:, :, None, :], pred[:, None, :, :])  # [B, T, U+1, V]
        targets, target_lengths = pad_targets(batch.tokens, self.blank_id, enc.device)
        targets = targets[:, : max(1, logits.shape[2] - 1)]
        if logits.shape[2] == 1:  # every target empty: rnnt_loss wants U = 0 targets
            targets = targets[:, :0]
        rnnt = rnnt_loss(logits, targets, lengths, target_lengths, blank=self.blank_id, reduction="sum",
                         backend=self.cfg.loss_backend)
        info = {"rnnt": float(rnnt.detach())}
        loss = rnnt
        if self.cfg.ctc_weight > 0:
            ctc = ctc_loss_sum(self.ctc_log_probs(enc), lengths, batch.tokens, self.blank_id)
            loss = loss + self.cfg.ctc_weight * ctc
            info["ctc"] = float(ctc.detach())
        return self.add_aux_loss(loss, enc, batch, info), info
