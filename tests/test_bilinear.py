"""Bilinear fusion layers: references, gradients, sharing, parameter counts, missing streams."""
from __future__ import annotations

import pytest
import torch

from avsr.models.bilinear import (
    BilinearSoftmax,
    FactoredBilinearSoftmax,
    LowRankBilinearFusion,
    SharedFactoredBilinearSoftmax,
    num_parameters,
    parameter_counts,
)

DA, DV, C, FUSION = 5, 4, 6, 3
GROUPS = torch.tensor([0, 0, 1, 2, 2, 2])


def pair(*lead: int, dtype=torch.float64, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    h_a = torch.randn(*lead, DA, dtype=dtype, generator=generator)
    h_v = torch.randn(*lead, DV, dtype=dtype, generator=generator)
    return h_a, h_v


def test_full_bilinear_equals_einsum_reference():
    torch.manual_seed(0)
    layer = BilinearSoftmax(DA, DV, C, dtype=torch.float64)
    h_a, h_v = pair(2, 3)
    expected = torch.einsum("bti,cij,btj->btc", h_a, layer.weight, h_v) + layer.bias
    got = layer(h_a, h_v)
    assert got.shape == (2, 3, C) and got.dtype == torch.float64
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    # And class by class, the definition h_a^T W_c h_v + b_c.
    c = 4
    torch.testing.assert_close(got[1, 2, c], h_a[1, 2] @ layer.weight[c] @ h_v[1, 2] + layer.bias[c])


def test_factored_is_a_rank_limited_bilinear():
    """W_c = U^T diag(s_c) V (+ uni-modal terms) reproduces the factored layer exactly."""
    torch.manual_seed(1)
    layer = FactoredBilinearSoftmax(DA, DV, C, FUSION, dtype=torch.float64)
    h_a, h_v = pair(7)
    weight = torch.einsum("fi,cf,fj->cij", layer.audio_proj, layer.class_factors, layer.video_proj)
    expected = (torch.einsum("ni,cij,nj->nc", h_a, weight, h_v) + layer.bias
                + h_a @ layer.audio_linear.weight.T + h_v @ layer.video_linear.weight.T)
    torch.testing.assert_close(layer(h_a, h_v), expected, atol=1e-12, rtol=0)
    assert int(torch.linalg.matrix_rank(weight[0])) <= FUSION


@pytest.mark.parametrize("make", [
    lambda: BilinearSoftmax(DA, DV, C, dtype=torch.float64),
    lambda: FactoredBilinearSoftmax(DA, DV, C, FUSION, dtype=torch.float64),
    lambda: FactoredBilinearSoftmax(DA, DV, C, FUSION, unimodal_terms=False, dtype=torch.float64),
    lambda: SharedFactoredBilinearSoftmax(DA, DV, GROUPS, FUSION, dtype=torch.float64),
], ids=["bilinear", "factored", "factored_no_unimodal", "shared"])
def test_gradcheck_softmax_layers(make):
    torch.manual_seed(2)
    layer = make()
    h_a, h_v = pair(3)
    h_a.requires_grad_()
    h_v.requires_grad_()
    params = tuple(layer.parameters())

    def run(a, v, *weights):
        names = [n for n, _ in layer.named_parameters()]
        return torch.func.functional_call(layer, dict(zip(names, weights)), (a, v))

    assert torch.autograd.gradcheck(run, (h_a, h_v) + params)


def test_gradcheck_regularization_both_forms():
    torch.manual_seed(3)
    layer = FactoredBilinearSoftmax(DA, DV, C, FUSION, dtype=torch.float64)
    h_a, h_v = pair(10)
    u = layer.audio_proj.detach().clone().requires_grad_()
    v = layer.video_proj.detach().clone().requires_grad_()

    def weight_form(u_, v_):
        return FactoredBilinearSoftmax.regularization(_Swap(layer, u_, v_))

    def data_form(u_, v_):
        return FactoredBilinearSoftmax.regularization(_Swap(layer, u_, v_), h_a, h_v)

    assert torch.autograd.gradcheck(weight_form, (u, v))
    assert torch.autograd.gradcheck(data_form, (u, v))


class _Swap:
    """A stand-in exposing the attributes regularization() reads, with projections swapped in."""

    def __init__(self, layer, audio_proj, video_proj):
        self.audio_proj, self.video_proj = audio_proj, video_proj
        self.fusion_dim, self.audio_dim, self.video_dim = layer.fusion_dim, layer.audio_dim, layer.video_dim


def test_regularization_is_zero_exactly_at_the_cca_constraint():
    layer = FactoredBilinearSoftmax(DA, DV, C, FUSION, dtype=torch.float64)
    with torch.no_grad():
        layer.audio_proj.copy_(torch.eye(DA, dtype=torch.float64)[:FUSION])
        layer.video_proj.copy_(torch.eye(DV, dtype=torch.float64)[:FUSION])
    assert layer.regularization().item() == pytest.approx(0.0, abs=1e-14)
    # Whitened data (identity covariance) + orthonormal projections also satisfy U C U^T = I.
    torch.manual_seed(4)
    h_a, h_v = _whitened(200, DA), _whitened(200, DV)
    assert layer.regularization(h_a, h_v).item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        layer.audio_proj.mul_(2.0)  # the scale ambiguity U -> 2U is what the penalty removes
    assert layer.regularization().item() > 1.0
    assert layer.regularization(h_a, h_v).item() > 1.0


def _whitened(rows: int, dim: int) -> torch.Tensor:
    x = torch.randn(rows, dim, dtype=torch.float64)
    x = x - x.mean(0)
    u, _, _ = torch.linalg.svd(x, full_matrices=False)
    return u * (rows - 1) ** 0.5  # columns orthonormal * sqrt(N-1): covariance exactly I


def test_shared_with_one_class_per_group_equals_unshared_exactly():
    torch.manual_seed(5)
    unshared = FactoredBilinearSoftmax(DA, DV, C, FUSION)
    shared = SharedFactoredBilinearSoftmax(DA, DV, torch.arange(C), FUSION)
    shared.load_state_dict(unshared.state_dict(), strict=False)
    assert shared.class_factors.shape == (C, FUSION)
    h_a, h_v = pair(4, 9, dtype=torch.float32)
    assert torch.equal(shared(h_a, h_v), unshared(h_a, h_v))


def test_shared_factors_tie_classes_of_a_group():
    torch.manual_seed(6)
    layer = SharedFactoredBilinearSoftmax(DA, DV, GROUPS, FUSION, unimodal_terms=False,
                                          dtype=torch.float64)
    assert layer.class_factors.shape == (3, FUSION)
    with torch.no_grad():
        layer.bias.zero_()
    scores = layer(*pair(8))
    torch.testing.assert_close(scores[:, 0], scores[:, 1])  # group 0
    torch.testing.assert_close(scores[:, 3], scores[:, 5])  # group 2
    assert not torch.allclose(scores[:, 0], scores[:, 2])
    # Equals the unshared layer whose factor rows are copied from each class's group.
    unshared = FactoredBilinearSoftmax(DA, DV, C, FUSION, unimodal_terms=False, dtype=torch.float64)
    state = layer.state_dict()
    state["class_factors"] = state["class_factors"][GROUPS]
    del state["group_of_class"]
    unshared.load_state_dict(state)
    torch.testing.assert_close(unshared(*pair(8)), layer(*pair(8)), atol=1e-12, rtol=0)


@pytest.mark.parametrize("sizes", [(200, 200, 2000, 200, 40), (200, 200, 300, 200, 40)])
def test_parameter_counts_order_and_formulas(sizes):
    audio_dim, video_dim, classes, fusion, groups = sizes
    counts = parameter_counts(audio_dim, video_dim, classes, fusion, groups)
    assert counts["bilinear"] == classes * audio_dim * video_dim + classes
    projections = fusion * (audio_dim + video_dim)
    unimodal = classes * (audio_dim + video_dim)
    assert counts["factored"] == projections + classes * fusion + unimodal + classes
    assert counts["shared_factored"] == projections + groups * fusion + unimodal + classes
    assert counts["bilinear"] > 9 * counts["factored"] > 9 * counts["shared_factored"]
    bare = parameter_counts(audio_dim, video_dim, classes, fusion, groups, unimodal_terms=False)
    assert bare["shared_factored"] < bare["factored"] < counts["factored"]


def test_layers_follow_dtype_and_count_on_meta():
    layer = FactoredBilinearSoftmax(DA, DV, C, FUSION, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in layer.parameters())
    meta = BilinearSoftmax(200, 200, 2000, device="meta")
    assert meta.weight.is_meta and num_parameters(meta) == 2000 * 200 * 200 + 2000


def test_rejects_mismatched_inputs():
    layer = FactoredBilinearSoftmax(DA, DV, C, FUSION)
    with pytest.raises(ValueError, match="expected audio"):
        layer(torch.randn(2, DV), torch.randn(2, DV))
    with pytest.raises(ValueError, match="leading dims"):
        layer(torch.randn(2, DA), torch.randn(3, DV))
    with pytest.raises(ValueError, match="group_of_class"):
        SharedFactoredBilinearSoftmax(DA, DV, torch.tensor([0, -1]), FUSION)


# ------------------------------------------------------------------------------------------
# LowRankBilinearFusion
# ------------------------------------------------------------------------------------------
def make_fusion(**kwargs) -> LowRankBilinearFusion:
    torch.manual_seed(7)
    fusion = LowRankBilinearFusion(DA, DV, 8, FUSION, dtype=torch.float64, **kwargs)
    with torch.no_grad():  # non-zero missing embeddings so the tests can see them
        for p in (fusion.missing_audio, fusion.missing_video):
            if p is not None:
                p.normal_()
        fusion.bias.normal_()
    return fusion.eval()


def test_fusion_formula():
    fusion = make_fusion()
    h_a, h_v = pair(2, 5)
    expected = (fusion.output_proj(fusion.audio_factor(h_a) * fusion.video_factor(h_v))
                + h_a @ fusion.audio_linear.weight.T + h_v @ fusion.video_linear.weight.T
                + fusion.bias)
    torch.testing.assert_close(fusion(h_a, h_v), expected, atol=1e-12, rtol=0)


def test_fusion_gradcheck_with_missing_items():
    fusion = make_fusion()
    h_a, h_v = pair(3, 2)
    h_a.requires_grad_()
    h_v.requires_grad_()
    audio_present = torch.tensor([True, False, True])
    video_present = torch.tensor([[True, False], [True, True], [False, True]])
    names = [n for n, _ in fusion.named_parameters()]

    def run(a, v, *weights):
        return torch.func.functional_call(fusion, dict(zip(names, weights)),
                                          (a, v, audio_present, video_present))

    assert torch.autograd.gradcheck(run, (h_a, h_v) + tuple(fusion.parameters()))


def test_absent_stream_without_embedding_leaves_the_unimodal_term():
    fusion = make_fusion(learn_missing_embedding=False)
    h_a, h_v = pair(2, 5)
    video_only = fusion(None, h_v)
    torch.testing.assert_close(video_only, h_v @ fusion.video_linear.weight.T + fusion.bias,
                               atol=1e-12, rtol=0)
    audio_only = fusion(h_a, None)
    torch.testing.assert_close(audio_only, h_a @ fusion.audio_linear.weight.T + fusion.bias,
                               atol=1e-12, rtol=0)


def test_absent_stream_uses_the_missing_embedding():
    fusion = make_fusion()
    h_a, h_v = pair(2, 5)
    embedded = fusion.missing_audio.expand_as(h_a)
    torch.testing.assert_close(fusion(None, h_v), fusion(embedded, h_v))
    # A per-item mask only changes the masked item.
    masked = fusion(h_a, h_v, audio_present=torch.tensor([True, False]))
    full = fusion(h_a, h_v)
    torch.testing.assert_close(masked[0], full[0])
    torch.testing.assert_close(masked[1], fusion(embedded, h_v)[1])
    assert not torch.allclose(masked[1], full[1])
    with pytest.raises(ValueError, match="at least one"):
        fusion(None, None)


def test_modality_dropout_drops_one_stream_only_in_training():
    fusion = make_fusion(modality_dropout=1.0)
    h_a, h_v = pair(64, 3)
    full = fusion(h_a, h_v)
    audio_gone = fusion(None, h_v)
    video_gone = fusion(h_a, None)
    torch.testing.assert_close(full, make_fusion()(h_a, h_v))  # eval: no dropout
    fusion.train()
    torch.manual_seed(8)
    out = fusion(h_a, h_v)
    dropped_audio = torch.isclose(out, audio_gone).flatten(1).all(1)
    dropped_video = torch.isclose(out, video_gone).flatten(1).all(1)
    assert bool((dropped_audio ^ dropped_video).all())  # exactly one stream per item
    assert 10 < int(dropped_audio.sum()) < 54  # both kinds happen (p = 1/2 each)
    # Never drops the only stream an item has.
    out_video_missing = fusion(h_a, h_v, video_present=torch.zeros(64, dtype=torch.bool))
    torch.testing.assert_close(out_video_missing, video_gone)
