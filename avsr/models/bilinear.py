"""Bilinear audio-visual fusion layers (Mroueh, Marcheret & Goel, ICASSP 2015).

Given the last hidden layers of an audio net, h_a in R^{da}, and of a video net, h_v in R^{dv}:

* :class:`BilinearSoftmax` — the bilinear DNN output layer, one da x dv matrix per class:
  ``logit_c = h_a^T W_c h_v + b_c``. C * da * dv weights: 80 M for paper-like sizes.
* :class:`FactoredBilinearSoftmax` — W_c restricted to rank <= F through shared projections
  U (F x da), V (F x dv) and a per-class factor s_c in R^F:
  ``logit_c = sum_f s_{c,f} (U h_a)_f (V h_v)_f`` (+ optional uni-modal terms), i.e.
  ``W_c = U^T diag(s_c) V``. U and V play the role of CCA's canonical projections and s_c
  weights each canonical product per class; :meth:`~FactoredBilinearSoftmax.regularization`
  is the CCA constraint as a penalty. The per-class parameters are a C x F table.
* :class:`SharedFactoredBilinearSoftmax` — the C x F table becomes G x F, one row per group of
  classes (the base phone of each context-dependent state); with one class per group it is
  exactly the unshared layer.
* :class:`LowRankBilinearFusion` — the end-to-end front-end fusion
  ``z = P[(A h_a) * (B h_v)] + W_a h_a + W_v h_v + b`` with modality dropout and learned
  "missing stream" embeddings, so A-only and V-only input also work.

The softmax layers return logits (apply ``log_softmax``/cross-entropy outside). All layers
accept any leading dimensions ([N, d] or [B, T, d]) and take ``device``/``dtype`` like torch
layers, so parameter counts for paper sizes can be taken on the ``"meta"`` device for free.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def num_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``module`` (works on the "meta" device)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _check_pair(h_a: Tensor, h_v: Tensor, audio_dim: int, video_dim: int) -> None:
    if h_a.shape[-1] != audio_dim or h_v.shape[-1] != video_dim:
        raise ValueError(f"expected audio [..., {audio_dim}] and video [..., {video_dim}], "
                         f"got {tuple(h_a.shape)} and {tuple(h_v.shape)}")
    if h_a.shape[:-1] != h_v.shape[:-1]:
        raise ValueError(f"audio and video leading dims differ: {tuple(h_a.shape[:-1])} vs "
                         f"{tuple(h_v.shape[:-1])}")


def _uniform_(tensor: Tensor, fan_in: int) -> Tensor:
    """torch.nn.Linear's default range, U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(max(fan_in, 1))
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


class BilinearSoftmax(nn.Module):
    """Full bilinear output layer: ``logit_c = h_a^T W_c h_v + b_c`` with W: [C, da, dv]."""

    def __init__(self, audio_dim: int, video_dim: int, num_classes: int, *,
                 device: Optional[torch.device | str] = None,
                 dtype: Optional[torch.dtype] = None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.audio_dim, self.video_dim, self.num_classes = audio_dim, video_dim, num_classes
        self.weight = nn.Parameter(torch.empty(num_classes, audio_dim, video_dim, **factory))
        self.bias = nn.Parameter(torch.empty(num_classes, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight.is_meta:
            return
        # h_a ⊗ h_v has da*dv inputs: scale as a linear layer over that outer product.
        _uniform_(self.weight, self.audio_dim * self.video_dim)
        _uniform_(self.bias, self.audio_dim * self.video_dim)

    def forward(self, h_a: Tensor, h_v: Tensor) -> Tensor:
        """[..., da], [..., dv] -> logits [..., C]."""
        _check_pair(h_a, h_v, self.audio_dim, self.video_dim)
        lead = h_a.shape[:-1]
        # Outer product then one matmul: memory N*da*dv, not N*C*dv as with (h_a W_c) first.
        outer = (h_a.reshape(-1, self.audio_dim, 1) * h_v.reshape(-1, 1, self.video_dim))
        logits = F.linear(outer.reshape(outer.shape[0], -1),
                          self.weight.reshape(self.num_classes, -1), self.bias)
        return logits.reshape(*lead, self.num_classes)


class FactoredBilinearSoftmax(nn.Module):
    """Factored bilinear softmax.

    ``logit_c = sum_f s_{c,f} (U h_a)_f (V h_v)_f [+ w_{a,c}.h_a + w_{v,c}.h_v] + b_c``.

    Args:
        audio_dim, video_dim: da, dv.
        num_classes: C.
        fusion_dim: F, the rank bound of every W_c = U^T diag(s_c) V.
        unimodal_terms: add ``w_{a,c}.h_a + w_{v,c}.h_v`` so a class can still be scored
            from one stream when the cross-modal product is uninformative.
    """

    def __init__(self, audio_dim: int, video_dim: int, num_classes: int, fusion_dim: int, *,
                 unimodal_terms: bool = True, device: Optional[torch.device | str] = None,
                 dtype: Optional[torch.dtype] = None) -> None:
        super().__init__()
        self.audio_dim, self.video_dim = audio_dim, video_dim
        self.num_classes, self.fusion_dim = num_classes, fusion_dim
        self._init_parameters(num_classes, unimodal_terms, device, dtype)

    def _init_parameters(self, factor_rows: int, unimodal_terms: bool,
                         device: Optional[torch.device | str],
                         dtype: Optional[torch.dtype]) -> None:
        factory = {"device": device, "dtype": dtype}
        self.audio_proj = nn.Parameter(torch.empty(self.fusion_dim, self.audio_dim, **factory))
        self.video_proj = nn.Parameter(torch.empty(self.fusion_dim, self.video_dim, **factory))
        self.class_factors = nn.Parameter(torch.empty(factor_rows, self.fusion_dim, **factory))
        self.bias = nn.Parameter(torch.empty(self.num_classes, **factory))
        if unimodal_terms:
            self.audio_linear: Optional[nn.Linear] = nn.Linear(
                self.audio_dim, self.num_classes, bias=False, **factory)
            self.video_linear: Optional[nn.Linear] = nn.Linear(
                self.video_dim, self.num_classes, bias=False, **factory)
        else:
            self.audio_linear = self.video_linear = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.class_factors.is_meta:
            return
        _uniform_(self.audio_proj, self.audio_dim)
        _uniform_(self.video_proj, self.video_dim)
        _uniform_(self.class_factors, self.fusion_dim)
        _uniform_(self.bias, self.fusion_dim)
        for layer in (self.audio_linear, self.video_linear):
            if layer is not None:
                layer.reset_parameters()

    def joint_features(self, h_a: Tensor, h_v: Tensor) -> Tensor:
        """The F canonical products (U h_a) * (V h_v), [..., F]."""
        _check_pair(h_a, h_v, self.audio_dim, self.video_dim)
        return F.linear(h_a, self.audio_proj) * F.linear(h_v, self.video_proj)

    def _bilinear_scores(self, joint: Tensor) -> Tensor:
        return F.linear(joint, self.class_factors)

    def forward(self, h_a: Tensor, h_v: Tensor) -> Tensor:
        """[..., da], [..., dv] -> logits [..., C]."""
        logits = self._bilinear_scores(self.joint_features(h_a, h_v)) + self.bias
        if self.audio_linear is not None and self.video_linear is not None:
            logits = logits + self.audio_linear(h_a) + self.video_linear(h_v)
        return logits

    def regularization(self, h_a: Optional[Tensor] = None,
                       h_v: Optional[Tensor] = None) -> Tensor:
        """CCA-motivated penalty; add ``lambda * layer.regularization(...)`` to the loss.

        CCA finds projections whose outputs are uncorrelated with unit variance within each
        modality (U C_aa U^T = I, V C_vv V^T = I) and maximally correlated across them. The
        factored softmax is a class-weighted sum of products of such projections, so the
        penalty pushes U and V towards that constraint:

        * with a batch (``h_a``, ``h_v`` given, [..., da]/[..., dv]): the data form,
          ``(||U C_aa U^T - I||_F^2 + ||V C_vv V^T - I||_F^2) / F`` with batch covariances;
        * without: the weight form ``(||U U^T - I||_F^2 + ||V V^T - I||_F^2) / F`` (the same
          constraint for whitened inputs), which needs no data.

        Either way it removes the scale ambiguity between (U, V) and the class factors
        (U -> cU, s -> s/c leaves the logits unchanged) and discourages redundant canonical
        directions. Dividing by F keeps lambda comparable across fusion sizes.
        """
        if (h_a is None) != (h_v is None):
            raise ValueError("give both h_a and h_v, or neither")
        eye = torch.eye(self.fusion_dim, device=self.audio_proj.device, dtype=self.audio_proj.dtype)
        if h_a is None or h_v is None:
            gram_a = self.audio_proj @ self.audio_proj.T
            gram_v = self.video_proj @ self.video_proj.T
        else:
            _check_pair(h_a, h_v, self.audio_dim, self.video_dim)
            gram_a = _projected_covariance(h_a.reshape(-1, self.audio_dim), self.audio_proj)
            gram_v = _projected_covariance(h_v.reshape(-1, self.video_dim), self.video_proj)
        return ((gram_a - eye).square().sum() + (gram_v - eye).square().sum()) / self.fusion_dim


def _projected_covariance(h: Tensor, proj: Tensor) -> Tensor:
    """Covariance of ``h @ proj.T`` over the rows of h ([N, d] -> [F, F])."""
    z = h @ proj.T
    z = z - z.mean(dim=0, keepdim=True)
    return z.T @ z / max(z.shape[0] - 1, 1)


class SharedFactoredBilinearSoftmax(FactoredBilinearSoftmax):
    """Factored bilinear softmax whose class factors are shared within groups of classes.

    ``group_of_class[c]`` is the group (e.g. base phone) of class c (e.g. a CD state); the
    C x F factor table becomes G x F and ``s_c = S[group_of_class[c]]``. Bias and uni-modal
    terms stay per class, so classes of one group still differ. With
    ``group_of_class = arange(C)`` and the same parameters it equals the unshared layer.
    """

    group_of_class: Tensor

    def __init__(self, audio_dim: int, video_dim: int, group_of_class: Tensor, fusion_dim: int,
                 *, num_groups: Optional[int] = None, unimodal_terms: bool = True,
                 device: Optional[torch.device | str] = None,
                 dtype: Optional[torch.dtype] = None) -> None:
        nn.Module.__init__(self)
        groups = torch.as_tensor(group_of_class)
        if groups.dim() != 1 or groups.numel() == 0 or groups.is_floating_point():
            raise ValueError("group_of_class must be a non-empty 1-D integer tensor [C]")
        if int(groups.min()) < 0:
            raise ValueError("group_of_class has negative group ids")
        needed = int(groups.max()) + 1
        if num_groups is not None and num_groups < needed:
            raise ValueError(f"num_groups={num_groups} but group_of_class uses group {needed - 1}")
        self.audio_dim, self.video_dim = audio_dim, video_dim
        self.num_classes, self.fusion_dim = groups.numel(), fusion_dim
        self.num_groups = num_groups if num_groups is not None else needed
        buffer_device = device if device is not None and str(device) != "meta" else None
        self.register_buffer("group_of_class", groups.to(device=buffer_device, dtype=torch.long))
        self._init_parameters(self.num_groups, unimodal_terms, device, dtype)

    def _bilinear_scores(self, joint: Tensor) -> Tensor:
        # Score each group once (G <= C products), then hand every class its group's score.
        return F.linear(joint, self.class_factors).index_select(-1, self.group_of_class)


class LowRankBilinearFusion(nn.Module):
    """E2E front-end fusion: ``z = P[(A h_a) * (B h_v)] + W_a h_a + W_v h_v + b``.

    A (rank x da) and B (rank x dv) have no bias, so the bilinear term vanishes when a stream
    is zero. A missing stream is replaced by zeros or, with ``learn_missing_embedding``, by a
    learned vector (initialised to zero), so the product term can still adapt the remaining
    stream. Training-time ``modality_dropout`` removes one stream (chosen with equal odds,
    never the only stream left) from a batch item with that probability, so the model also
    learns A-only and V-only operation.
    """

    def __init__(self, audio_dim: int, video_dim: int, output_dim: int, rank: int, *,
                 modality_dropout: float = 0.0, learn_missing_embedding: bool = True,
                 device: Optional[torch.device | str] = None,
                 dtype: Optional[torch.dtype] = None) -> None:
        super().__init__()
        if not 0.0 <= modality_dropout <= 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1], got {modality_dropout}")
        factory = {"device": device, "dtype": dtype}
        self.audio_dim, self.video_dim, self.output_dim = audio_dim, video_dim, output_dim
        self.rank, self.modality_dropout = rank, modality_dropout
        self.audio_factor = nn.Linear(audio_dim, rank, bias=False, **factory)  # A
        self.video_factor = nn.Linear(video_dim, rank, bias=False, **factory)  # B
        self.output_proj = nn.Linear(rank, output_dim, bias=False, **factory)  # P
        self.audio_linear = nn.Linear(audio_dim, output_dim, bias=False, **factory)  # W_a
        self.video_linear = nn.Linear(video_dim, output_dim, bias=False, **factory)  # W_v
        self.bias = nn.Parameter(torch.zeros(output_dim, **factory))
        if learn_missing_embedding:
            self.missing_audio: Optional[nn.Parameter] = nn.Parameter(
                torch.zeros(audio_dim, **factory))
            self.missing_video: Optional[nn.Parameter] = nn.Parameter(
                torch.zeros(video_dim, **factory))
        else:
            self.missing_audio = self.missing_video = None

    def forward(self, h_a: Optional[Tensor], h_v: Optional[Tensor],
                audio_present: Optional[Tensor] = None,
                video_present: Optional[Tensor] = None) -> Tensor:
        """Fuse [..., da] and [..., dv] into [..., D].

        ``h_a``/``h_v`` may be None (that stream is absent for the whole batch).
        ``audio_present``/``video_present`` are bool masks over the leading dims (e.g. [B] or
        [B, T]); False replaces that item's stream by the missing embedding (or zeros).
        """
        if h_a is None and h_v is None:
            raise ValueError("at least one of h_a, h_v is needed")
        if h_a is None:
            assert h_v is not None
            h_a = h_v.new_zeros(*h_v.shape[:-1], self.audio_dim)
            audio_present = torch.zeros(h_v.shape[:-1], dtype=torch.bool, device=h_v.device)
        if h_v is None:
            h_v = h_a.new_zeros(*h_a.shape[:-1], self.video_dim)
            video_present = torch.zeros(h_a.shape[:-1], dtype=torch.bool, device=h_a.device)
        _check_pair(h_a, h_v, self.audio_dim, self.video_dim)
        audio_present = _as_mask(audio_present, h_a, "audio_present")
        video_present = _as_mask(video_present, h_v, "video_present")
        if self.training and self.modality_dropout > 0.0:
            audio_present, video_present = self._drop_modalities(audio_present, video_present)
        h_a = _replace_missing(h_a, audio_present, self.missing_audio)
        h_v = _replace_missing(h_v, video_present, self.missing_video)
        joint = self.audio_factor(h_a) * self.video_factor(h_v)
        return self.output_proj(joint) + self.audio_linear(h_a) + self.video_linear(h_v) + self.bias

    def _drop_modalities(self, audio_present: Tensor,
                         video_present: Tensor) -> tuple[Tensor, Tensor]:
        """Per batch item (dim 0): with prob p drop audio or video (50/50) if the other is there."""
        if audio_present.dim() == 0:  # a single unbatched vector: nothing to drop per item
            return audio_present, video_present
        batch = audio_present.shape[0]
        device = audio_present.device
        drop = torch.rand(batch, device=device) < self.modality_dropout
        pick_audio = torch.rand(batch, device=device) < 0.5
        view = (batch,) + (1,) * (audio_present.dim() - 1)
        drop_audio = (drop & pick_audio).view(view) & video_present
        drop_video = (drop & ~pick_audio).view(view) & audio_present
        return audio_present & ~drop_audio, video_present & ~drop_video


def _as_mask(mask: Optional[Tensor], h: Tensor, name: str) -> Tensor:
    """A bool mask over h's leading dims (all True when None)."""
    lead = h.shape[:-1]
    if mask is None:
        return torch.ones(lead, dtype=torch.bool, device=h.device)
    mask = mask.to(device=h.device, dtype=torch.bool)
    if mask.dim() > len(lead) or tuple(mask.shape) != tuple(lead[: mask.dim()]):
        raise ValueError(f"{name} of shape {tuple(mask.shape)} does not prefix the leading dims "
                         f"{tuple(lead)}")
    return mask.reshape(mask.shape + (1,) * (len(lead) - mask.dim())).expand(lead)


def _replace_missing(h: Tensor, present: Tensor, missing: Optional[Tensor]) -> Tensor:
    fill = missing.to(h.dtype) if missing is not None else h.new_zeros(h.shape[-1])
    return torch.where(present.unsqueeze(-1), h, fill)


def parameter_counts(audio_dim: int, video_dim: int, num_classes: int, fusion_dim: int,
                     num_groups: int, unimodal_terms: bool = True) -> dict[str, int]:
    """Parameter counts of the three softmax layers for given sizes (built on "meta")."""
    groups = torch.arange(num_classes) % num_groups
    layers = {
        "bilinear": BilinearSoftmax(audio_dim, video_dim, num_classes, device="meta"),
        "factored": FactoredBilinearSoftmax(audio_dim, video_dim, num_classes, fusion_dim,
                                            unimodal_terms=unimodal_terms, device="meta"),
        "shared_factored": SharedFactoredBilinearSoftmax(
            audio_dim, video_dim, groups, fusion_dim, unimodal_terms=unimodal_terms,
            device="meta"),
    }
    return {name: num_parameters(layer) for name, layer in layers.items()}


__all__ = ["BilinearSoftmax", "FactoredBilinearSoftmax", "SharedFactoredBilinearSoftmax",
           "LowRankBilinearFusion", "num_parameters", "parameter_counts"]
