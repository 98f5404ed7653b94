"""What both E2E models share: the AV front-end, the Conformer encoder, a CTC head and the batch
interface used by the training loop and the decoders."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor, nn

from avsr.models.conformer import ConformerConfig, ConformerEncoder
from avsr.models.frontend import AVFrontend, FrontendConfig


@dataclass
class Batch:
    """A padded mini-batch. ``audio`` fbank [B, T, 80] float; ``video`` mouth crops [B, Tv, S, S]
    uint8; ``tokens`` target ids per utterance (no blank, no sos/eos)."""

    ids: list[str]
    audio: Tensor
    audio_lengths: Tensor
    video: Tensor
    video_lengths: Tensor
    tokens: list[list[int]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def to(self, device: torch.device) -> "Batch":
        return Batch(self.ids, self.audio.to(device), self.audio_lengths.to(device), self.video.to(device),
                     self.video_lengths.to(device), self.tokens, self.texts)

    def __len__(self) -> int:
        return len(self.ids)


def pad_targets(tokens: list[list[int]], pad: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """list of id lists → ([B, U_max] long padded with ``pad``, [B] lengths)."""
    lengths = torch.tensor([len(t) for t in tokens], dtype=torch.long, device=device)
    out = torch.full((len(tokens), max(1, int(lengths.max()) if len(tokens) else 1)), pad, dtype=torch.long, device=device)
    for i, t in enumerate(tokens):
        if t:
            out[i, : len(t)] = torch.tensor(t, dtype=torch.long, device=device)
    return out, lengths


def ctc_loss_sum(log_probs: Tensor, lengths: Tensor, tokens: list[list[int]], blank: int) -> Tensor:
    """Sum over the batch of per-utterance CTC NLLs (log_probs [B, T, V])."""
    targets, target_lengths = pad_targets(tokens, 0, log_probs.device)
    return nn.functional.ctc_loss(log_probs.transpose(0, 1), targets, lengths, target_lengths, blank=blank,
                                  reduction="sum", zero_infinity=True)


class E2EEncoderModel(nn.Module):
    """Front-end + Conformer + CTC head; subclasses add their decoder and loss."""

    def __init__(self, vocab_size: int, frontend: FrontendConfig, encoder: ConformerConfig, blank_id: int = 0) -> None:
        super().__init__()
        if frontend.output_dim != encoder.d_model:
            raise ValueError(f"front-end output_dim {frontend.output_dim} != encoder d_model {encoder.d_model}")
        self.vocab_size, self.blank_id = vocab_size, blank_id
        self.frontend = AVFrontend(frontend)
        self.encoder = ConformerEncoder(encoder)
        self.ctc_head = nn.Linear(encoder.d_model, vocab_size)

    def encode(self, batch: Batch, drop: Optional[str] = None) -> tuple[Tensor, Tensor]:
        """→ encodings [B, T, D] at 25 fps and their lengths."""
        x, lengths = self.frontend(batch.audio, batch.audio_lengths, batch.video, batch.video_lengths, drop=drop)
        return self.encoder(x, lengths), lengths

    def ctc_log_probs(self, encodings: Tensor) -> Tensor:
        return self.ctc_head(encodings).log_softmax(dim=-1)
