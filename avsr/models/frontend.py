"""Audio-visual front-end for the E2E models: audio and visual branches aligned at 25 fps, fused.

- audio: global-CMVN fbank [B, T, 80] at 100 fps → two stride-2 3x3 convolutions → 40 ms frames
  (``ceil(T / 4)``, which equals the 25 fps video frame count of the corpus);
- video (``video_input: pixels``): mouth crops [B, Tv, S, S] uint8 → a 3-D convolution stem
  (temporal kernel 3) → a light 2-D ResNet applied per frame → one vector per video frame;
  (``video_input: dct``): the crops' 2-D DCT coefficients [B, Tv, K] (stage 3's ``roi_dct``, the
  classic AV-ASR visual feature, as the hybrid uses) → per-coefficient normalisation → a linear
  map and two temporal convolutions (lip motion) → one vector per frame, at a small fraction of
  the pixel CNN's cost on a CPU;
- alignment: each audio frame t takes video frame ``min(t, Tv_b - 1)`` (lengths may differ by a
  frame; the last frame is repeated, never a neighbour's padding);
- fusion: ``audio`` | ``video`` (uni-modal) | ``concat`` (linear map of the concatenation) |
  ``bilinear`` (avsr.models.bilinear.LowRankBilinearFusion: low-rank factored bilinear term plus
  the uni-modal linear terms). Both AV options apply training-time modality dropout and accept
  ``drop="audio"|"video"`` at test time (the missing stream is replaced by a learned embedding).

Every normalisation is per frame (LayerNorm / GroupNorm on single frames, no BatchNorm) and
padding is zeroed between layers, so a valid frame's output never depends on how much padding
the batch has: one process with batch 2N computes exactly what two DDP ranks with N each do.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from avsr.models.bilinear import LowRankBilinearFusion

FUSIONS = ("audio", "video", "concat", "bilinear")


@dataclass
class FrontendConfig:
    fusion: str = "bilinear"
    num_mel: int = 80
    audio_channels: int = 32
    audio_dim: int = 128
    video_input: str = "pixels"  # pixels (mouth crops, 3-D/2-D CNN) | dct (roi_dct coefficients, 1-D convs)
    video_dct_dim: int = 64  # dct: number of coefficients per frame
    video_channels: int = 16
    video_input_pool: int = 2  # average-pool crops by this factor first (44x44 → 22x22): CPU budget
    video_dim: int = 128
    output_dim: int = 128
    bilinear_rank: int = 64
    modality_dropout: float = 0.25
    dropout: float = 0.1
    utterance_cmn: bool = False  # subtract each utterance's mean fbank (after global normalisation)


def lengths_to_mask(lengths: Tensor, max_len: Optional[int] = None) -> Tensor:
    """[B] lengths → [B, T] bool, True on valid frames."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class AudioSubsampling(nn.Module):
    """fbank [B, T, F] → [B, ceil(T/4), D]: conv(3x3, stride 2) twice, then a linear map."""

    def __init__(self, num_mel: int, channels: int, out_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=2, padding=1)
        freq = math.ceil(math.ceil(num_mel / 2) / 2)
        self.out = nn.Linear(channels * freq, out_dim)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        len1 = (lengths + 1) // 2
        h = torch.relu(self.conv1(x.unsqueeze(1)))  # [B, C, T/2, F/2]
        # zero the conv output past each utterance's end: otherwise relu(bias) there differs
        # from the zero padding conv2 sees at the batch's edge, and results would depend on padding
        h = h * lengths_to_mask(len1, h.shape[2])[:, None, :, None]
        len2 = (len1 + 1) // 2
        h = torch.relu(self.conv2(h))
        b, c, t, f = h.shape
        y = self.out(h.permute(0, 2, 1, 3).reshape(b, t, c * f))
        return y * lengths_to_mask(len2, t)[..., None], len2


class BasicBlock2d(nn.Module):
    """ResNet basic block with GroupNorm (per frame, so independent of the batch)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.norm1 = nn.GroupNorm(4, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.norm2 = nn.GroupNorm(4, cout)
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.GroupNorm(4, cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.norm1(self.conv1(x)))
        return torch.relu(self.norm2(self.conv2(h)) + self.skip(x))


class VisualFrontend(nn.Module):
    """Mouth crops [B, Tv, S, S] (normalised float) → [B, Tv, D].

    Optional ``input_pool``x average pooling of the crops, a 3-D stem (3x5x5, spatial stride 2),
    then per frame two ResNet stages (C → 2C → 4C, stride 2 each) and global average pooling.
    About 25 k parameters at C = 8: sized for CPU training (44x44 crops → 22 → 11 → 6 → 3).
    """

    def __init__(self, channels: int, out_dim: int, input_pool: int = 1) -> None:
        super().__init__()
        c = channels
        self.input_pool = input_pool
        self.stem = nn.Conv3d(1, c, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), bias=False)
        self.stem_norm = nn.GroupNorm(4, c)
        self.stages = nn.Sequential(BasicBlock2d(c, 2 * c, 2), BasicBlock2d(2 * c, 4 * c, 2))
        self.out = nn.Linear(4 * c, out_dim)

    def forward(self, video: Tensor, lengths: Tensor) -> Tensor:
        b, t, hgt, wid = video.shape
        mask = lengths_to_mask(lengths, t)
        x = video * mask[..., None, None]
        if self.input_pool > 1:
            x = nn.functional.avg_pool2d(x, self.input_pool, ceil_mode=True)
        x = x.unsqueeze(1)  # [B, 1, T, H, W]
        x = self.stem(x)  # [B, C, T, H/2, W/2]
        x = x.transpose(1, 2).reshape(b * t, x.shape[1], x.shape[3], x.shape[4])
        x = torch.relu(self.stem_norm(x))
        x = self.stages(x).mean(dim=(2, 3))
        return self.out(x).view(b, t, -1) * mask[..., None]


class VisualDctFrontend(nn.Module):
    """DCT coefficients [B, Tv, K] (normalised) → [B, Tv, D]: linear map, then two depth-wise
    separable temporal convolutions (kernel 5 = 200 ms) with residual connections."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int = 5) -> None:
        super().__init__()
        self.inp = nn.Linear(in_dim, out_dim)
        self.convs = nn.ModuleList(nn.Conv1d(out_dim, out_dim, kernel_size, padding=kernel_size // 2, groups=out_dim)
                                   for _ in range(2))
        self.mix = nn.ModuleList(nn.Linear(out_dim, out_dim) for _ in range(2))
        self.norms = nn.ModuleList(nn.LayerNorm(out_dim) for _ in range(2))

    def forward(self, video: Tensor, lengths: Tensor) -> Tensor:
        mask = lengths_to_mask(lengths, video.shape[1])[..., None]
        h = torch.relu(self.inp(video)) * mask
        for conv, mix, norm in zip(self.convs, self.mix, self.norms):
            g = conv(norm(h).transpose(1, 2)).transpose(1, 2)
            h = (h + mix(torch.relu(g))) * mask
        return h


def align_video_to_audio(video: Tensor, video_lengths: Tensor, num_frames: int) -> Tensor:
    """Pick video frame ``min(t, len_b - 1)`` for each audio frame t < num_frames → [B, num_frames, D]."""
    t = torch.arange(num_frames, device=video.device)[None, :]
    index = torch.minimum(t, (video_lengths[:, None] - 1).clamp(min=0))
    return torch.gather(video, 1, index[..., None].expand(-1, -1, video.shape[-1]))


class ConcatFusion(nn.Module):
    """``z = W [h_a; h_v] + b`` with the same missing-stream / modality-dropout rules as the
    bilinear fusion (a missing stream becomes a learned embedding, initialised to zero)."""

    def __init__(self, audio_dim: int, video_dim: int, output_dim: int, modality_dropout: float) -> None:
        super().__init__()
        self.proj = nn.Linear(audio_dim + video_dim, output_dim)
        self.missing_audio = nn.Parameter(torch.zeros(audio_dim))
        self.missing_video = nn.Parameter(torch.zeros(video_dim))
        self.modality_dropout = modality_dropout

    def forward(self, h_a: Tensor, h_v: Tensor, audio_present: Tensor, video_present: Tensor) -> Tensor:
        if self.training and self.modality_dropout > 0:
            drop = torch.rand(h_a.shape[0], device=h_a.device) < self.modality_dropout
            pick_audio = torch.rand(h_a.shape[0], device=h_a.device) < 0.5
            audio_present = audio_present & ~(drop & pick_audio & video_present)
            video_present = video_present & ~(drop & ~pick_audio & audio_present)
        h_a = torch.where(audio_present[:, None, None], h_a, self.missing_audio)
        h_v = torch.where(video_present[:, None, None], h_v, self.missing_video)
        return self.proj(torch.cat([h_a, h_v], dim=-1))


class AVFrontend(nn.Module):
    """Normalise, embed, align and fuse the two streams → ([B, T, D], lengths) at 25 fps.

    Normalisation statistics (global fbank mean/std, crop pixel mean/std) are buffers, set once
    from training data with :meth:`set_normalisation`, so a checkpoint decodes on its own.
    """

    def __init__(self, cfg: FrontendConfig) -> None:
        super().__init__()
        if cfg.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {cfg.fusion!r}")
        self.cfg = cfg
        self.uses_audio = cfg.fusion != "video"
        self.uses_video = cfg.fusion != "audio"
        self.register_buffer("audio_mean", torch.zeros(cfg.num_mel))
        self.register_buffer("audio_std", torch.ones(cfg.num_mel))
        if cfg.video_input not in ("pixels", "dct"):
            raise ValueError(f"video_input must be 'pixels' or 'dct', got {cfg.video_input!r}")
        video_stat_shape = (cfg.video_dct_dim,) if cfg.video_input == "dct" else ()
        self.register_buffer("video_mean", torch.zeros(video_stat_shape))
        self.register_buffer("video_std", torch.ones(video_stat_shape))
        if self.uses_audio:
            self.audio = AudioSubsampling(cfg.num_mel, cfg.audio_channels, cfg.audio_dim)
        if self.uses_video:
            self.video = (VisualDctFrontend(cfg.video_dct_dim, cfg.video_dim) if cfg.video_input == "dct"
                          else VisualFrontend(cfg.video_channels, cfg.video_dim, cfg.video_input_pool))
        if cfg.fusion == "bilinear":
            self.fusion = LowRankBilinearFusion(cfg.audio_dim, cfg.video_dim, cfg.output_dim, cfg.bilinear_rank,
                                                modality_dropout=cfg.modality_dropout)
        elif cfg.fusion == "concat":
            self.fusion = ConcatFusion(cfg.audio_dim, cfg.video_dim, cfg.output_dim, cfg.modality_dropout)
        else:
            self.fusion = nn.Linear(cfg.audio_dim if self.uses_audio else cfg.video_dim, cfg.output_dim)
        self.norm = nn.LayerNorm(cfg.output_dim)
        self.dropout = nn.Dropout(cfg.dropout)

    @torch.no_grad()
    def start_as_audio_model(self, audio_state: dict[str, Tensor]) -> None:
        """Make this AV front-end compute exactly what the audio-only front-end with state
        ``audio_state`` (keys ``frontend.*`` of a trained audio model) computes: its audio map
        becomes the uni-modal audio term (concat: the audio half of the projection), every video
        and bilinear term starts at zero, the output norm is the audio model's. Training then
        adds the video from a model that is as good as the audio-only one on clean speech."""
        if self.cfg.fusion not in ("concat", "bilinear"):
            raise ValueError(f"start_as_audio_model needs an AV fusion, not {self.cfg.fusion!r}")
        weight, bias = audio_state["frontend.fusion.weight"], audio_state["frontend.fusion.bias"]
        if self.cfg.fusion == "bilinear":
            self.fusion.audio_linear.weight.copy_(weight)
            self.fusion.bias.copy_(bias)
            self.fusion.video_linear.weight.zero_()
            self.fusion.output_proj.weight.zero_()
        else:
            a = self.cfg.audio_dim
            self.fusion.proj.weight[:, :a].copy_(weight)
            self.fusion.proj.weight[:, a:].zero_()
            self.fusion.proj.bias.copy_(bias)
        self.norm.weight.copy_(audio_state["frontend.norm.weight"])
        self.norm.bias.copy_(audio_state["frontend.norm.bias"])

    @torch.no_grad()
    def set_normalisation(self, audio_mean: Tensor, audio_std: Tensor, video_mean, video_std) -> None:
        """Global statistics: fbank mean/std per bin; video: pixel mean/std (scalars, crops in
        [0, 1]) or per-coefficient mean/std (dct)."""
        self.audio_mean.copy_(audio_mean)
        self.audio_std.copy_(audio_std.clamp(min=1e-3))
        self.video_mean.copy_(torch.as_tensor(video_mean, dtype=torch.float32).expand_as(self.video_mean))
        self.video_std.copy_(torch.as_tensor(video_std, dtype=torch.float32).clamp(min=1e-3).expand_as(self.video_std))

    def forward(self, audio: Optional[Tensor], audio_lengths: Optional[Tensor], video: Optional[Tensor],
                video_lengths: Optional[Tensor], drop: Optional[str] = None) -> tuple[Tensor, Tensor]:
        """audio [B, T, F] float fbank, video [B, Tv, S, S] uint8/float crops; ``drop`` =
        "audio"/"video" removes that stream (AV models: replaced by the missing embedding)."""
        h_a = h_v = None
        if self.uses_audio:
            if audio is None or audio_lengths is None:
                raise ValueError(f"fusion {self.cfg.fusion!r} needs audio")
            x = (audio - self.audio_mean) / self.audio_std
            valid = lengths_to_mask(audio_lengths, x.shape[1])[..., None]
            if self.cfg.utterance_cmn:  # remove each utterance's mean (voice, channel, noise level)
                x = x - (x * valid).sum(1, keepdim=True) / audio_lengths.clamp(min=1)[:, None, None]
            x = x * valid
            h_a, lengths = self.audio(x, audio_lengths)
        if self.uses_video:
            if video is None or video_lengths is None:
                raise ValueError(f"fusion {self.cfg.fusion!r} needs video")
            if self.cfg.video_input == "dct":
                v = (video.float() - self.video_mean) / self.video_std
            else:
                v = (video.float() / 255.0 - self.video_mean) / self.video_std
            h_v = self.video(v, video_lengths)
            if h_a is not None:
                h_v = align_video_to_audio(h_v, video_lengths, h_a.shape[1])
            else:
                lengths = video_lengths
        if self.cfg.fusion in ("audio", "video"):
            if drop is not None and drop == self.cfg.fusion:
                raise ValueError(f"a {self.cfg.fusion}-only model cannot drop its only stream")
            z = self.fusion(h_a if h_a is not None else h_v)
        else:
            assert h_a is not None and h_v is not None
            batch = h_a.shape[0]
            audio_present = torch.full((batch,), drop != "audio", dtype=torch.bool, device=h_a.device)
            video_present = torch.full((batch,), drop != "video", dtype=torch.bool, device=h_a.device)
            z = self.fusion(h_a, h_v, audio_present, video_present)
        z = self.dropout(self.norm(z))
        return z * lengths_to_mask(lengths, z.shape[1])[..., None], lengths
