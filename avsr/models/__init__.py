"""Neural model components: bilinear AV fusion layers and the RNN-T loss."""
from avsr.models.bilinear import (
    BilinearSoftmax,
    FactoredBilinearSoftmax,
    LowRankBilinearFusion,
    SharedFactoredBilinearSoftmax,
    num_parameters,
    parameter_counts,
)
from avsr.models.rnnt_loss import available_backends, rnnt_loss

__all__ = [
    "BilinearSoftmax",
    "FactoredBilinearSoftmax",
    "SharedFactoredBilinearSoftmax",
    "LowRankBilinearFusion",
    "num_parameters",
    "parameter_counts",
    "rnnt_loss",
    "available_backends",
]
