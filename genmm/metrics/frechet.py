"""Fréchet distance between Gaussians (Dowson & Landau 1982; FID, Heusel et al. 2017) and the
kernel distance of Bińkowski et al. 2018 (KID: unbiased MMD^2, cubic polynomial kernel)."""

from __future__ import annotations

import torch
from torch import Tensor


def gaussian_statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased covariance of ``(N, D)`` features, in float64."""
    features = features.double()
    mean = features.mean(0)
    centred = features - mean
    return mean, centred.T @ centred / max(1, features.shape[0] - 1)


def _sqrt_psd(matrix: Tensor) -> Tensor:
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def frechet_distance(mean1: Tensor, cov1: Tensor, mean2: Tensor, cov2: Tensor) -> float:
    """||m1 - m2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2))."""
    mean1, cov1, mean2, cov2 = (x.double() for x in (mean1, cov1, mean2, cov2))
    root1 = _sqrt_psd(cov1)
    middle = root1 @ cov2 @ root1
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    value = (mean1 - mean2).pow(2).sum() + cov1.trace() + cov2.trace() - 2 * trace_sqrt
    return float(value.clamp_min(0))


def kernel_inception_distance(
    x: Tensor, y: Tensor, subsets: int = 10, subset_size: int = 1000
) -> float:
    """Mean unbiased MMD^2 over random subsets, kernel k(a, b) = (a.b / d + 1)^3."""
    x, y = x.double(), y.double()
    size = min(subset_size, x.shape[0], y.shape[0])

    def kernel(a: Tensor, b: Tensor) -> Tensor:  # the cubic polynomial kernel of KID
        return (a @ b.T / x.shape[1] + 1) ** 3

    def within(a: Tensor) -> Tensor:  # the mean of k over distinct pairs of one set
        k = kernel(a, a)
        return (k.sum() - k.diag().sum()) / (size * (size - 1))

    total = 0.0
    for _ in range(subsets):
        a = x[torch.randperm(x.shape[0])[:size]]
        b = y[torch.randperm(y.shape[0])[:size]]
        total += float(within(a) + within(b) - 2 * kernel(a, b).mean())
    return total / subsets
