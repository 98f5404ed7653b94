"""RNN-T loss: checked against brute-force enumeration of every monotonic alignment."""
from __future__ import annotations

import itertools

import pytest
import torch

from avsr.models.rnnt_loss import (
    LOG_ZERO,
    _LogSoftmaxGather,
    _RnntRecursion,
    available_backends,
    rnnt_loss,
)

TOL = 1e-5


def brute_force_nll(log_probs: torch.Tensor, targets: torch.Tensor, frames: int, labels: int,
                    blank: int) -> torch.Tensor:
    """-log sum over all alignments of one utterance; log_probs [T, U+1, V] (differentiable).

    An alignment is T blanks and U labels in any order whose last symbol is a blank: choose
    which of the first T+U-1 steps emit a label.
    """
    path_scores = []
    for emit_steps in itertools.combinations(range(frames + labels - 1), labels):
        t = u = 0
        score = log_probs.new_zeros(())
        for step in range(frames + labels - 1):
            if step in emit_steps:
                score = score + log_probs[t, u, targets[u]]
                u += 1
            else:
                score = score + log_probs[t, u, blank]
                t += 1
        path_scores.append(score + log_probs[frames - 1, labels, blank])
    return -torch.logsumexp(torch.stack(path_scores), dim=0)


def brute_force_batch(logits, targets, logit_lengths, target_lengths, blank):
    log_probs = logits.log_softmax(dim=-1)
    return torch.stack([
        brute_force_nll(log_probs[b], targets[b], int(logit_lengths[b]), int(target_lengths[b]), blank)
        for b in range(logits.shape[0])
    ])


def random_problem(seed: int, batch: int, frames: int, labels: int, vocab: int, blank: int,
                   logit_lengths: list[int], target_lengths: list[int]):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, frames, labels + 1, vocab, dtype=torch.float64,
                         generator=generator).mul_(2.0).requires_grad_()
    non_blank = [v for v in range(vocab) if v != blank]
    picks = torch.randint(len(non_blank), (batch, labels), generator=generator)
    targets = torch.tensor(non_blank)[picks]
    return (logits, targets, torch.tensor(logit_lengths), torch.tensor(target_lengths))


CASES = [  # (batch, T, U, V, blank, logit_lengths, target_lengths)
    (2, 4, 3, 4, 0, [4, 3], [3, 2]),
    (2, 4, 3, 4, 0, [2, 4], [1, 0]),
    (2, 3, 2, 3, 0, [1, 3], [2, 2]),  # T_b = 1: every label at the first frame
    (2, 4, 3, 4, 2, [3, 4], [3, 1]),  # blank in the middle of V
    (2, 4, 2, 4, 3, [4, 1], [0, 2]),  # blank = V - 1
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("gradient", ["beta", "autograd"])
@pytest.mark.parametrize("fused", [True, False])
def test_matches_brute_force_values_and_gradients(case, gradient, fused):
    batch, frames, labels, vocab, blank, t_lens, u_lens = case
    logits, targets, logit_lengths, target_lengths = random_problem(
        7, batch, frames, labels, vocab, blank, t_lens, u_lens)
    expected = brute_force_batch(logits, targets, logit_lengths, target_lengths, blank)
    (expected_grad,) = torch.autograd.grad(expected.sum(), logits)

    inputs = logits if fused else logits.log_softmax(dim=-1)
    got = rnnt_loss(inputs, targets, logit_lengths, target_lengths, blank=blank,
                    reduction="none", gradient=gradient, fused_log_softmax=fused)
    (got_grad,) = torch.autograd.grad(got.sum(), logits)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected, atol=TOL, rtol=0)
    torch.testing.assert_close(got_grad, expected_grad, atol=TOL, rtol=0)
    # Frames and label positions outside an utterance get exactly zero gradient.
    for b in range(batch):
        assert torch.all(got_grad[b, t_lens[b]:] == 0)
        assert torch.all(got_grad[b, :, u_lens[b] + 1:] == 0)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_reductions(reduction):
    logits, targets, logit_lengths, target_lengths = random_problem(
        3, 2, 4, 3, 4, 0, [4, 2], [2, 3])
    per_utt = brute_force_batch(logits, targets, logit_lengths, target_lengths, 0)
    expected = {"none": per_utt, "sum": per_utt.sum(), "mean": per_utt.mean()}[reduction]
    (expected_grad,) = torch.autograd.grad(expected.sum(), logits)
    got = rnnt_loss(logits, targets, logit_lengths, target_lengths, reduction=reduction)
    (got_grad,) = torch.autograd.grad(got.sum(), logits)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=TOL, rtol=0)
    torch.testing.assert_close(got_grad, expected_grad, atol=TOL, rtol=0)


def test_per_utterance_weights_reach_the_gradient():
    """The beta backward must scale each utterance's gradient by its own grad_output."""
    logits, targets, logit_lengths, target_lengths = random_problem(
        5, 3, 5, 3, 5, 1, [5, 3, 4], [3, 1, 2])
    weights = torch.tensor([0.5, -2.0, 3.0], dtype=torch.float64)
    grads = {}
    for mode in ("beta", "autograd"):
        losses = rnnt_loss(logits, targets, logit_lengths, target_lengths, blank=1,
                           reduction="none", gradient=mode)
        (grads[mode],) = torch.autograd.grad((losses * weights).sum(), logits)
    torch.testing.assert_close(grads["beta"], grads["autograd"], atol=1e-10, rtol=0)


def test_gradcheck_custom_functions():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 3, 4, dtype=torch.float64, requires_grad=True)
    index = torch.tensor([[1, 2], [3, 1]])
    assert torch.autograd.gradcheck(lambda x: _LogSoftmaxGather.apply(x, index, 0), (logits,))
    blank_lp = torch.randn(2, 3, 3, dtype=torch.float64).log_softmax(-1).requires_grad_()
    emit_lp = torch.randn(2, 3, 2, dtype=torch.float64).log_softmax(-1).requires_grad_()
    lengths = (torch.tensor([3, 3]), torch.tensor([2, 2]))
    assert torch.autograd.gradcheck(
        lambda b, e: _RnntRecursion.apply(b, e, *lengths), (blank_lp, emit_lp))
    assert torch.autograd.gradcheck(
        lambda x: rnnt_loss(x, index, torch.tensor([3, 2]), torch.tensor([2, 1]),
                            reduction="sum"), (logits,))


def test_padding_content_does_not_matter():
    logits, targets, logit_lengths, target_lengths = random_problem(
        11, 2, 4, 3, 4, 0, [2, 4], [1, 3])
    with torch.no_grad():
        garbage = logits.detach().clone()
        garbage[0, 2:] = 1e4  # frames beyond T_0
        garbage[0, :, 2:] = -1e4  # label positions beyond U_0
    garbage.requires_grad_()
    targets = targets.clone()
    targets[0, 1:] = -1  # padded targets need not be valid labels
    clean = rnnt_loss(logits, targets, logit_lengths, target_lengths, reduction="none")
    dirty = rnnt_loss(garbage, targets, logit_lengths, target_lengths, reduction="none")
    torch.testing.assert_close(clean, dirty, atol=1e-12, rtol=0)
    (grad,) = torch.autograd.grad(dirty.sum(), garbage)
    assert torch.isfinite(grad).all()
    assert torch.all(grad[0, 2:] == 0) and torch.all(grad[0, :, 2:] == 0)


def test_empty_target_batch_is_sum_of_blanks():
    logits = torch.randn(2, 5, 1, 3, dtype=torch.float64)
    targets = torch.zeros(2, 0, dtype=torch.long)
    lengths = torch.tensor([5, 2])
    got = rnnt_loss(logits, targets, lengths, torch.tensor([0, 0]), reduction="none")
    log_probs = logits.log_softmax(-1)[..., 0, 0]
    expected = torch.stack([-log_probs[0].sum(), -log_probs[1, :2].sum()])
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)


def test_float32_long_sequences_stay_finite_and_accurate():
    torch.manual_seed(1)
    batch, frames, labels, vocab = 2, 200, 40, 12
    logits64 = torch.randn(batch, frames, labels + 1, vocab, dtype=torch.float64) * 3
    targets = torch.randint(1, vocab, (batch, labels))
    t_lens, u_lens = torch.tensor([200, 150]), torch.tensor([40, 25])
    ref = rnnt_loss(logits64, targets, t_lens, u_lens, reduction="none")
    logits32 = logits64.float().requires_grad_()
    got = rnnt_loss(logits32, targets, t_lens, u_lens, reduction="none")
    (grad,) = torch.autograd.grad(got.sum(), logits32)
    assert got.dtype == torch.float32 and torch.isfinite(grad).all()
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=0)
    # Softmax normalisation: the gradient of every (t, u) row sums to zero over V.
    assert grad.sum(-1).abs().max().item() < 1e-5


def test_recursions_agree_at_realistic_size():
    torch.manual_seed(2)
    logits = torch.randn(3, 30, 9, 20, requires_grad=True)
    targets = torch.randint(1, 20, (3, 8))
    t_lens, u_lens = torch.tensor([30, 17, 25]), torch.tensor([8, 5, 0])
    grads, values = {}, {}
    for mode in ("beta", "autograd"):
        values[mode] = rnnt_loss(logits, targets, t_lens, u_lens, gradient=mode)
        (grads[mode],) = torch.autograd.grad(values[mode], logits)
    torch.testing.assert_close(values["beta"], values["autograd"], atol=1e-4, rtol=1e-6)
    torch.testing.assert_close(grads["beta"], grads["autograd"], atol=1e-6, rtol=1e-4)


def test_no_grad_forward_and_log_zero_is_finite():
    logits, targets, logit_lengths, target_lengths = random_problem(
        4, 2, 3, 2, 3, 0, [3, 3], [2, 1])
    with torch.no_grad():
        loss = rnnt_loss(logits, targets, logit_lengths, target_lengths)
    assert torch.isfinite(loss) and loss.item() > 0
    assert LOG_ZERO > torch.finfo(torch.float32).min / 1e6


@pytest.mark.parametrize("bad, message", [
    (dict(logit_lengths=torch.tensor([5, 1])), "logit_lengths"),
    (dict(logit_lengths=torch.tensor([0, 1])), "logit_lengths"),
    (dict(target_lengths=torch.tensor([4, 1])), "target_lengths"),
    (dict(targets=torch.zeros(2, 2, dtype=torch.long)), "targets must be"),
    (dict(blank=4), "blank"),
    (dict(reduction="avg"), "reduction"),
    (dict(targets=torch.tensor([[1, 9, 1], [1, 1, 1]])), "targets must lie"),
])
def test_rejects_bad_input(bad, message):
    args = dict(logits=torch.randn(2, 4, 4, 4), targets=torch.ones(2, 3, dtype=torch.long),
                logit_lengths=torch.tensor([4, 2]), target_lengths=torch.tensor([3, 1]),
                blank=0, reduction="mean")
    args.update(bad)
    with pytest.raises(ValueError, match=message):
        rnnt_loss(**args)


def test_unavailable_backend_raises_import_error():
    for backend in ("torchaudio", "k2"):
        if backend in available_backends():
            continue
        with pytest.raises(ImportError):
            rnnt_loss(torch.randn(1, 2, 2, 3), torch.ones(1, 1, dtype=torch.long),
                      torch.tensor([2]), torch.tensor([1]), backend=backend)
