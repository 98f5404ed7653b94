"""RNN-T loss (Graves, 2012, "Sequence Transduction with Recurrent Neural Networks") in pure torch.

The transducer lattice for one utterance has nodes (t, u), 0 <= t < T, 0 <= u <= U. From (t, u)
a blank moves to (t+1, u) with log-prob ``blank[t, u]`` and label y_{u+1} moves to (t, u+1) with
``emit[t, u]``; an alignment ends with the blank out of (T-1, U). The loss is -log of the sum over
all alignments, computed by the forward (alpha) recursion in log space.

How this file keeps it fast and small:

* Only two numbers per lattice node are ever needed, so the [B, T, U+1, V] joiner output is
  reduced at once to ``blank`` [B, T, U+1] and ``emit`` [B, T, U]. With ``fused_log_softmax``
  (default) the log-softmax over V is never materialised: a custom autograd function gathers
  two logits and subtracts the log-normaliser, and its backward writes the logits' gradient into
  one freshly allocated [B, T, U+1, V] buffer (softmax * occupancy minus the gathered
  occupancies).
* The recursion runs over anti-diagonals n = t + u: every node of a diagonal depends only on the
  previous diagonal, so there are T + U Python steps, each a few batched ops over [B, U+1]. The
  lattice is "skewed" once (a gather) so that a diagonal is a contiguous slice.
* Gradients: ``gradient="beta"`` (default) runs the backward (beta) recursion under no_grad and
  returns the exact occupancies exp(alpha + lp + beta - logZ); ``gradient="autograd"``
  differentiates through the alpha recursion instead. Both are checked against each other and
  against brute-force enumeration in tests/test_rnnt_loss.py.
* log 0 is a large finite negative number (``LOG_ZERO``), not -inf, so logaddexp of two
  impossible paths has a finite (zero) gradient instead of NaN.

Optional backends (``backend="torchaudio"`` / ``"k2"``) call the compiled losses of those
projects with the same arguments when they are importable; on this machine neither imports.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

LOG_ZERO = -1.0e30
REDUCTIONS = ("mean", "sum", "none")
BACKENDS = ("torch", "torchaudio", "k2")
GRADIENT_MODES = ("beta", "autograd")


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------
def rnnt_loss(
    logits: Tensor,
    targets: Tensor,
    logit_lengths: Tensor,
    target_lengths: Tensor,
    blank: int = 0,
    reduction: str = "mean",
    *,
    backend: str = "torch",
    fused_log_softmax: bool = True,
    gradient: str = "beta",
) -> Tensor:
    """RNN-T negative log-likelihood.

    Args:
        logits: [B, T, U+1, V] joiner output (unnormalised scores; with
            ``fused_log_softmax=False`` they must already be log-probabilities over V).
        targets: [B, U] integer labels, padded arbitrarily beyond ``target_lengths``.
        logit_lengths: [B] number of valid frames per utterance, 1 <= T_b <= T.
        target_lengths: [B] number of labels per utterance, 0 <= U_b <= U.
        blank: index of the blank symbol in V (any index, not only 0).
        reduction: ``"mean"`` (mean over the batch of per-utterance losses, as torchaudio),
            ``"sum"`` or ``"none"`` ([B] losses).
        backend: ``"torch"`` (this file), ``"torchaudio"`` or ``"k2"`` (raise ImportError if the
            package cannot be imported).
        fused_log_softmax: True: normalise over V inside the loss without materialising the
            log-softmax. False: ``logits`` are log-probs already (torchaudio's meaning).
        gradient: ``"beta"`` (explicit backward recursion) or ``"autograd"`` (torch backend only).

    Returns:
        A scalar, or [B] for ``reduction="none"``; float64 inputs give float64, anything else
        is computed and returned in at least float32.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if gradient not in GRADIENT_MODES:
        raise ValueError(f"gradient must be one of {GRADIENT_MODES}, got {gradient!r}")
    _check_inputs(logits, targets, logit_lengths, target_lengths, blank)
    if backend == "torchaudio":
        return _torchaudio_rnnt_loss(logits, targets, logit_lengths, target_lengths, blank,
                                     reduction, fused_log_softmax)
    if backend == "k2":
        return _k2_rnnt_loss(logits, targets, logit_lengths, target_lengths, blank, reduction,
                             fused_log_softmax)

    logit_lengths = logit_lengths.to(device=logits.device, dtype=torch.long)
    target_lengths = target_lengths.to(device=logits.device, dtype=torch.long)
    blank_lp, emit_lp = gather_transducer_log_probs(logits, targets, blank, fused_log_softmax)
    blank_lp, emit_lp = _mask_beyond_lengths(blank_lp, emit_lp, logit_lengths, target_lengths)
    if gradient == "beta":
        losses = _RnntRecursion.apply(blank_lp, emit_lp, logit_lengths, target_lengths)
    else:
        losses = _rnnt_loss_autograd(blank_lp, emit_lp, logit_lengths, target_lengths)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def gather_transducer_log_probs(
    logits: Tensor, targets: Tensor, blank: int, fused_log_softmax: bool = True
) -> tuple[Tensor, Tensor]:
    """Reduce [B, T, U+1, V] scores to the two log-probs the lattice uses.

    Returns ``blank`` [B, T, U+1] (log P(blank | t, u)) and ``emit`` [B, T, U]
    (log P(y_{u+1} | t, u)), in float32 or float64. Padded targets are clamped into range;
    :func:`rnnt_loss` masks their positions afterwards.
    """
    vocab = logits.shape[-1]
    index = targets.to(device=logits.device, dtype=torch.long).clamp(0, vocab - 1)
    if fused_log_softmax:
        blank_lp, emit_lp = _LogSoftmaxGather.apply(logits, index, blank)
    else:
        blank_lp = logits[..., blank]
        emit_lp = _gather_emit(logits, index)
    work_dtype = torch.float64 if logits.dtype == torch.float64 else torch.float32
    return blank_lp.to(work_dtype), emit_lp.to(work_dtype)


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------
def _check_inputs(logits: Tensor, targets: Tensor, logit_lengths: Tensor,
                  target_lengths: Tensor, blank: int) -> None:
    if logits.dim() != 4:
        raise ValueError(f"logits must be [B, T, U+1, V], got shape {tuple(logits.shape)}")
    batch, frames, labels_plus_one, vocab = logits.shape
    if targets.dim() != 2 or targets.shape[0] != batch or targets.shape[1] != labels_plus_one - 1:
        raise ValueError(f"targets must be [B, U] = [{batch}, {labels_plus_one - 1}] for logits "
                         f"{tuple(logits.shape)}, got {tuple(targets.shape)}")
    if targets.is_floating_point():
        raise ValueError("targets must be an integer tensor")
    for name, lengths in (("logit_lengths", logit_lengths), ("target_lengths", target_lengths)):
        if lengths.shape != (batch,):
            raise ValueError(f"{name} must have shape [{batch}], got {tuple(lengths.shape)}")
    if not 0 <= blank < vocab:
        raise ValueError(f"blank={blank} is outside the vocabulary of size {vocab}")
    if frames == 0 or bool((logit_lengths < 1).any()) or bool((logit_lengths > frames).any()):
        raise ValueError(f"logit_lengths must lie in [1, {frames}], got {logit_lengths.tolist()}")
    if bool((target_lengths < 0).any()) or bool((target_lengths > labels_plus_one - 1).any()):
        raise ValueError(f"target_lengths must lie in [0, {labels_plus_one - 1}], "
                         f"got {target_lengths.tolist()}")
    positions = torch.arange(targets.shape[1], device=targets.device)
    valid = positions[None, :] < target_lengths.to(targets.device)[:, None]
    if bool(((targets < 0) | (targets >= vocab))[valid].any()):
        raise ValueError(f"targets must lie in [0, {vocab}) within target_lengths")


# --------------------------------------------------------------------------------------------
# Log-softmax + gather without materialising the log-softmax
# --------------------------------------------------------------------------------------------
def _gather_emit(scores: Tensor, index: Tensor) -> Tensor:
    """scores [B, T, U+1, V], index [B, U] -> scores[b, t, u, index[b, u]] as [B, T, U]."""
    batch, frames, labels_plus_one, _ = scores.shape
    expanded = index[:, None, :, None].expand(batch, frames, labels_plus_one - 1, 1)
    return scores[:, :, :-1].gather(-1, expanded).squeeze(-1)


class _LogSoftmaxGather(torch.autograd.Function):
    """(logits, index, blank) -> (log_softmax(logits)[..., blank], log_softmax(logits)[..., y]).

    Forward keeps only the [B, T, U+1] log-normaliser. Backward builds the gradient in a single
    [B, T, U+1, V] buffer: d lp_k / d x_j = [j == k] - softmax_j.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, index: Tensor, blank: int) -> tuple[Tensor, Tensor]:
        log_norm = torch.logsumexp(logits, dim=-1)
        blank_lp = logits[..., blank] - log_norm
        emit_lp = _gather_emit(logits, index) - log_norm[:, :, :-1]
        ctx.save_for_backward(logits, log_norm, index)
        ctx.blank = blank
        return blank_lp, emit_lp

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_blank: Tensor, grad_emit: Tensor):
        logits, log_norm, index = ctx.saved_tensors
        batch, frames, labels_plus_one, _ = logits.shape
        grad = logits - log_norm.unsqueeze(-1)
        grad.exp_()  # softmax, in the only big buffer of the backward
        grad_total = grad_blank.clone()
        grad_total[:, :, :-1] += grad_emit
        grad.mul_(grad_total.neg_().unsqueeze(-1))
        grad[..., ctx.blank] += grad_blank
        expanded = index[:, None, :, None].expand(batch, frames, labels_plus_one - 1, 1)
        grad[:, :, :-1].scatter_add_(-1, expanded, grad_emit.unsqueeze(-1).to(grad.dtype))
        return grad, None, None


# --------------------------------------------------------------------------------------------
# Lattice preparation
# --------------------------------------------------------------------------------------------
def _mask_beyond_lengths(blank_lp: Tensor, emit_lp: Tensor, logit_lengths: Tensor,
                         target_lengths: Tensor) -> tuple[Tensor, Tensor]:
    """Set arcs outside each utterance's lattice to LOG_ZERO (also stops NaN in padding)."""
    _, frames, labels_plus_one = blank_lp.shape
    t = torch.arange(frames, device=blank_lp.device)[None, :, None]
    u = torch.arange(labels_plus_one, device=blank_lp.device)[None, None, :]
    frame_ok = t < logit_lengths[:, None, None]
    blank_ok = frame_ok & (u <= target_lengths[:, None, None])
    emit_ok = frame_ok & (u[:, :, :-1] < target_lengths[:, None, None])
    log_zero = blank_lp.new_tensor(LOG_ZERO)
    return torch.where(blank_ok, blank_lp, log_zero), torch.where(emit_ok, emit_lp, log_zero)


def _skew(blank_lp: Tensor, emit_lp: Tensor) -> tuple[Tensor, Tensor]:
    """Lay the lattice out by anti-diagonal.

    The lattice is extended by a virtual row t = T (all arcs LOG_ZERO) so that the final
    blank out of (T_b - 1, U_b) lands on a node, (T_b, U_b), whose alpha is log Z.
    Returns [B, N, U+1] tensors with N = T + U + 1 and ``skewed[b, n, u] = x[b, n - u, u]``.
    """
    batch, frames, labels_plus_one = blank_lp.shape
    blank_ext = F.pad(blank_lp, (0, 0, 0, 1), value=LOG_ZERO)  # [B, T+1, U+1]
    emit_ext = F.pad(emit_lp, (0, 1, 0, 1), value=LOG_ZERO)  # [B, T+1, U+1]
    diagonals = frames + labels_plus_one  # T + U + 1
    n = torch.arange(diagonals, device=blank_lp.device)[:, None]
    u = torch.arange(labels_plus_one, device=blank_lp.device)[None, :]
    t = n - u
    outside = (t < 0) | (t > frames)
    index = t.clamp(0, frames).expand(batch, diagonals, labels_plus_one)
    blank_s = blank_ext.gather(1, index).masked_fill(outside, LOG_ZERO)
    emit_s = emit_ext.gather(1, index).masked_fill(outside, LOG_ZERO)
    return blank_s, emit_s


def _unskew(skewed: Tensor, frames: int) -> Tensor:
    """Inverse of :func:`_skew` for the real rows: [B, N, U+1] -> [B, T, U+1]."""
    batch, _, labels_plus_one = skewed.shape
    t = torch.arange(frames, device=skewed.device)[:, None]
    u = torch.arange(labels_plus_one, device=skewed.device)[None, :]
    return skewed.gather(1, (t + u).expand(batch, frames, labels_plus_one))


def _final_index(logit_lengths: Tensor, target_lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(batch, diagonal, u) of each utterance's final node (T_b, U_b) in skewed layout."""
    rows = torch.arange(logit_lengths.shape[0], device=logit_lengths.device)
    return rows, logit_lengths + target_lengths, target_lengths


# --------------------------------------------------------------------------------------------
# Recursions
# --------------------------------------------------------------------------------------------
def _alpha_skewed(blank_s: Tensor, emit_s: Tensor) -> Tensor:
    """Forward variables for every diagonal, [B, N, U+1] (no autograd; writes one buffer).

    alpha[t, u] = logaddexp(alpha[t-1, u] + blank[t-1, u], alpha[t, u-1] + emit[t, u-1]).
    Column 0 of the work buffer is a LOG_ZERO pad so alpha[., u-1] is a plain slice.
    """
    batch, diagonals, labels_plus_one = blank_s.shape
    alpha = blank_s.new_full((batch, diagonals, labels_plus_one + 1), LOG_ZERO)
    alpha[:, 0, 1] = 0.0
    # emit_from_left[:, n, u] = emit[n, u-1]; at u = 0 it wraps to emit[n, U], which is LOG_ZERO.
    emit_from_left = emit_s.roll(1, dims=-1)
    for n in range(1, diagonals):
        previous = alpha[:, n - 1]
        torch.logaddexp(previous[:, 1:] + blank_s[:, n - 1],
                        previous[:, :-1] + emit_from_left[:, n - 1],
                        out=alpha[:, n, 1:])
    return alpha[:, :, 1:]


def _beta_skewed(blank_s: Tensor, emit_s: Tensor, logit_lengths: Tensor,
                 target_lengths: Tensor) -> Tensor:
    """Backward variables, [B, N+1, U+1]: beta = log-prob of finishing from node (t, u).

    Seeded with 0 at each utterance's final node (T_b, U_b); diagonal N is all LOG_ZERO.
    """
    batch, diagonals, labels_plus_one = blank_s.shape
    beta = blank_s.new_full((batch, diagonals + 1, labels_plus_one + 1), LOG_ZERO)
    rows, final_n, final_u = _final_index(logit_lengths, target_lengths)
    is_final = torch.zeros(batch, diagonals, labels_plus_one, dtype=torch.bool,
                           device=blank_s.device)
    is_final[rows, final_n, final_u] = True
    beta[rows, final_n, final_u] = 0.0
    for n in range(diagonals - 2, -1, -1):
        following = beta[:, n + 1]
        step = torch.logaddexp(blank_s[:, n] + following[:, :-1], emit_s[:, n] + following[:, 1:])
        beta[:, n, :-1] = step.masked_fill_(is_final[:, n], 0.0)
    return beta[:, :, :-1]


class _RnntRecursion(torch.autograd.Function):
    """(blank [B,T,U+1], emit [B,T,U], lengths) -> per-utterance loss [B], gradient via beta."""

    @staticmethod
    def forward(ctx, blank_lp: Tensor, emit_lp: Tensor, logit_lengths: Tensor,
                target_lengths: Tensor) -> Tensor:
        blank_s, emit_s = _skew(blank_lp, emit_lp)
        alpha = _alpha_skewed(blank_s, emit_s)
        rows, final_n, final_u = _final_index(logit_lengths, target_lengths)
        log_z = alpha[rows, final_n, final_u]
        ctx.save_for_backward(blank_s, emit_s, alpha, log_z, logit_lengths, target_lengths)
        ctx.frames = blank_lp.shape[1]
        return -log_z

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_losses: Tensor):
        blank_s, emit_s, alpha, log_z, logit_lengths, target_lengths = ctx.saved_tensors
        beta = _beta_skewed(blank_s, emit_s, logit_lengths, target_lengths)
        base = alpha - log_z[:, None, None]
        blank_occupancy = torch.exp(base + blank_s + beta[:, 1:])
        emit_occupancy = torch.exp(base[:, :, :-1] + emit_s[:, :, :-1] + beta[:, 1:, 1:])
        scale = -grad_losses.to(alpha.dtype)[:, None, None]
        grad_blank = _unskew(blank_occupancy, ctx.frames) * scale
        emit_full = F.pad(emit_occupancy, (0, 1))
        grad_emit = _unskew(emit_full, ctx.frames)[:, :, :-1] * scale
        return grad_blank, grad_emit, None, None


def _rnnt_loss_autograd(blank_lp: Tensor, emit_lp: Tensor, logit_lengths: Tensor,
                        target_lengths: Tensor) -> Tensor:
    """Same alpha recursion, differentiated by autograd (a reference and a fallback)."""
    blank_s, emit_s = _skew(blank_lp, emit_lp)
    batch, diagonals, labels_plus_one = blank_s.shape
    first = blank_s.new_full((batch, labels_plus_one), LOG_ZERO)
    first[:, 0] = 0.0
    pad = blank_s.new_full((batch, 1), LOG_ZERO)
    columns = [first]
    for n in range(1, diagonals):
        previous = columns[-1]
        from_left = torch.cat([pad, previous[:, :-1] + emit_s[:, n - 1, :-1]], dim=1)
        columns.append(torch.logaddexp(previous + blank_s[:, n - 1], from_left))
    alpha = torch.stack(columns, dim=1)
    rows, final_n, final_u = _final_index(logit_lengths, target_lengths)
    return -alpha[rows, final_n, final_u]


# --------------------------------------------------------------------------------------------
# Optional compiled backends
# --------------------------------------------------------------------------------------------
def _torchaudio_rnnt_loss(logits: Tensor, targets: Tensor, logit_lengths: Tensor,
                          target_lengths: Tensor, blank: int, reduction: str,
                          fused_log_softmax: bool) -> Tensor:
    import torchaudio.functional as taf  # raises ImportError where torchaudio is unusable

    return taf.rnnt_loss(logits, targets.int(), logit_lengths.int(), target_lengths.int(),
                         blank=blank, reduction=reduction, fused_log_softmax=fused_log_softmax)


def _k2_rnnt_loss(logits: Tensor, targets: Tensor, logit_lengths: Tensor,
                  target_lengths: Tensor, blank: int, reduction: str,
                  fused_log_softmax: bool) -> Tensor:
    import k2  # raises ImportError where k2 is not installed

    if not fused_log_softmax:
        raise ValueError("the k2 backend normalises logits itself: use fused_log_softmax=True")
    batch = logits.shape[0]
    boundary = torch.zeros(batch, 4, dtype=torch.long, device=logits.device)
    boundary[:, 2] = target_lengths.to(logits.device)  # [begin_symbol, begin_frame, end_symbol,
    boundary[:, 3] = logit_lengths.to(logits.device)  #  end_frame]
    return k2.rnnt_loss(logits, targets.to(logits.device).long(), termination_symbol=blank,
                        boundary=boundary, rnnt_type="regular", reduction=reduction)


def available_backends() -> list[str]:
    """Backends that import on this machine ("torch" always)."""
    found = ["torch"]
    for name, module in (("torchaudio", "torchaudio.functional"), ("k2", "k2")):
        try:
            __import__(module)
        except Exception:  # noqa: BLE001 - a broken install is just "not available"
            continue
        found.append(name)
    return found


__all__ = ["rnnt_loss", "gather_transducer_log_probs", "available_backends", "LOG_ZERO"]
