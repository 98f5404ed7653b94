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
    frame_labels: Optional[Tensor] = None  # [B, T_enc] long, -1 = no label (auxiliary frame CE)

    def to(self, device: torch.device) -> "Batch":
        labels = None if self.frame_labels is None else self.frame_labels.to(device)
        return Batch(self.ids, self.audio.to(device), self.audio_lengths.to(device), self.video.to(device),
                     self.video_lengths.to(device), self.tokens, self.texts, labels)

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
    """Front-end + Conformer + CTC head; subclasses add their decoder and loss.

    ``aux_classes`` > 0 adds a frame classifier on the encoder output, trained with cross-entropy
    on per-frame labels (e.g. the phone of the GMM alignment at each 40 ms frame) while
    ``aux_weight`` > 0: a warm start that gets a pixel front-end off the CTC plateau in a few hundred
    updates. It is never used in decoding.
    """

    def __init__(self, vocab_size: int, frontend: FrontendConfig, encoder: ConformerConfig, blank_id: int = 0,
                 aux_classes: int = 0) -> None:
        super().__init__()
        if frontend.output_dim != encoder.d_model:
            raise ValueError(f"front-end output_dim {frontend.output_dim} != encoder d_model {encoder.d_model}")
        self.vocab_size, self.blank_id = vocab_size, blank_id
        self.frontend = AVFrontend(frontend)
        self.encoder = ConformerEncoder(encoder)
        self.ctc_head = nn.Linear(encoder.d_model, vocab_size)
        self.aux_head = nn.Linear(encoder.d_model, aux_classes) if aux_classes > 0 else None
        self.aux_weight = 0.0  # set per epoch by the training loop; not part of the state
        self.freeze_encoder = False  # likewise

    def aux_loss(self, encodings: Tensor, batch: Batch) -> Optional[Tensor]:
        """Summed frame cross-entropy over labelled frames, or None when it does not apply."""
        if self.aux_head is None or self.aux_weight <= 0 or batch.frame_labels is None:
            return None
        labels = batch.frame_labels[:, : encodings.shape[1]]
        if labels.shape[1] < encodings.shape[1]:
            labels = nn.functional.pad(labels, (0, encodings.shape[1] - labels.shape[1]), value=-1)
        logits = self.aux_head(encodings)
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-1,
                                           reduction="sum")

    def add_aux_loss(self, loss: Tensor, encodings: Tensor, batch: Batch, info: dict[str, float]) -> Tensor:
        aux = self.aux_loss(encodings, batch)
        if aux is None:
            return loss
        info["aux"] = float(aux.detach())
        return loss + self.aux_weight * aux

    def encode(self, batch: Batch, drop: Optional[str] = None) -> tuple[Tensor, Tensor]:
        """→ encodings [B, T, D] at 25 fps and their lengths. While ``freeze_encoder`` is set (the
        loop's first epochs of a model started from a trained encoder), front-end and encoder run
        without gradients: only the new heads learn, at a third of the cost of a full update."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_encoder):
            x, lengths = self.frontend(batch.audio, batch.audio_lengths, batch.video, batch.video_lengths, drop=drop)
            return self.encoder(x, lengths), lengths

    def ctc_log_probs(self, encodings: Tensor) -> Tensor:
        return self.ctc_head(encodings).log_softmax(dim=-1)
