"""A small two-stream sync network (SyncNet-style, Chung & Zisserman 2016).

The video stream sees W consecutive (pooled, normalised) mouth crops stacked as channels (early
fusion over time, as SyncNet does); the audio stream sees the matching W × 4 audio frames
(0.2 s of MFCC for W = 5). Both end in an L2-normalised embedding; their cosine is the sync
score of the pair. Trained by :mod:`avsr.sync.train` with either the multi-way matching loss
(Perfect Match) or the pairwise contrastive loss (SyncNet).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class SyncModelConfig:
    window: int = 5  # video frames per window (0.2 s at 25 fps)
    video_pool: int = 2  # crops are average-pooled by this first (44x44 -> 22x22)
    audio_source: str = "mfcc"  # mfcc (24-dim) | fbank (80-dim)
    audio_dim: int = 24  # audio features per frame (must match audio_source)
    audio_per_video: int = 4  # audio frames per video frame
    channels: int = 16
    embed_dim: int = 64

    def to_dict(self) -> dict:
        return asdict(self)


class VideoStream(nn.Module):
    def __init__(self, cfg: SyncModelConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.net = nn.Sequential(
            nn.Conv2d(cfg.window, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.BatchNorm2d(2 * c), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.BatchNorm2d(2 * c), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
            nn.Flatten(), nn.Linear(8 * c, 4 * c), nn.ReLU(), nn.Linear(4 * c, cfg.embed_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, W, h, w] -> [B, E]
        return F.normalize(self.net(x), dim=-1)


class AudioStream(nn.Module):
    def __init__(self, cfg: SyncModelConfig) -> None:
        super().__init__()
        c = cfg.channels
        steps = cfg.window * cfg.audio_per_video
        self.net = nn.Sequential(
            nn.Conv1d(cfg.audio_dim, 2 * c, 3, padding=1), nn.BatchNorm1d(2 * c), nn.ReLU(),
            nn.Conv1d(2 * c, 2 * c, 3, padding=1, stride=2), nn.BatchNorm1d(2 * c), nn.ReLU(),
            nn.Conv1d(2 * c, 2 * c, 3, padding=1, stride=2), nn.BatchNorm1d(2 * c), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * c * ((steps + 3) // 4), 4 * c), nn.ReLU(), nn.Linear(4 * c, cfg.embed_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, W*4, D] -> [B, E]
        return F.normalize(self.net(x.transpose(1, 2)), dim=-1)


class SyncNet(nn.Module):
    def __init__(self, cfg: SyncModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.video = VideoStream(cfg)
        self.audio = AudioStream(cfg)
        self.log_scale = nn.Parameter(torch.tensor(2.3))  # cosine -> logits temperature (multi-way loss), e^2.3 ≈ 10

    def video_windows(self, video: torch.Tensor) -> torch.Tensor:
        """All windows of one clip's crops [Tv, h, w] -> [Tv - W + 1, W, h, w] (a view)."""
        return video.unfold(0, self.cfg.window, 1).permute(0, 3, 1, 2)

    def audio_windows(self, audio: torch.Tensor) -> torch.Tensor:
        """All windows of one clip's audio chunks [Tv, 4, D] -> [Tv - W + 1, W * 4, D]."""
        w = audio.unfold(0, self.cfg.window, 1)  # [N, 4, D, W]
        return w.permute(0, 3, 1, 2).reshape(w.shape[0], -1, audio.shape[-1])

    def embed_clip(self, video: torch.Tensor, audio: torch.Tensor, chunk: Optional[int] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(audio embeddings [N, E], video embeddings [N, E]) of every window of a clip."""
        vw, aw = self.video_windows(video), self.audio_windows(audio)
        if chunk is None:
            return self.audio(aw), self.video(vw)
        ea = torch.cat([self.audio(aw[i : i + chunk]) for i in range(0, len(aw), chunk)])
        ev = torch.cat([self.video(vw[i : i + chunk]) for i in range(0, len(vw), chunk)])
        return ea, ev


def num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
