"""Figures of paired image-to-image translation, on the held-out pairs.

* PSNR: 10 log10(1 / MSE) of images in [0, 1], per image, averaged.
* SSIM (Wang, Bovik, Sheikh & Simoncelli 2004, "Image Quality Assessment: From Error
  Visibility to Structural Similarity", eq. 13 and section III-C): an 11 x 11 Gaussian window
  of sigma 1.5 (normalised to sum 1), K1 = 0.01, K2 = 0.03, dynamic range L = 1, over the
  window positions inside the image ("valid"), averaged over positions and channels (the mean
  SSIM of the paper, per channel as for colour images in common use), then over images.
* L1: mean absolute error to the ground truth in the model's [-1, 1] range (the pix2pix
  training term, Isola et al. 2017 eq. 3).
* FD: the Fréchet distance of the outputs to the held-out targets on the image plugin's
  feature network (``image.fd``'s features), beside its real-vs-real floor (real training
  targets, as many as generated, to the held-out ones).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from genmm.errors import DataError
from genmm.metrics import Metric, frechet_distance, gaussian_statistics
from genmm_image.metrics import fd_floor, feature_network, real_features, record

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run

K1, K2 = 0.01, 0.03


def gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    """The normalised 2-D Gaussian window (size, size), float64."""
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    line = torch.exp(-(offsets**2) / (2 * sigma**2))
    window = line[:, None] * line[None, :]
    return window / window.sum()


def psnr(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio in dB of each image pair (B, C, H, W) -> (B,)."""
    mse = (x.double() - y.double()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse.clamp_min(1e-20))


def ssim(
    x: Tensor, y: Tensor, data_range: float = 1.0, window: int = 11, sigma: float = 1.5
) -> Tensor:
    """Mean structural similarity of each image pair (B, C, H, W) -> (B,) (Wang et al. 2004)."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(
            f"ssim needs two (B, C, H, W) tensors of one shape, got {x.shape}, {y.shape}"
        )
    if min(x.shape[-2:]) < window:
        raise ValueError(
            f"ssim needs images of at least {window}x{window}, got {tuple(x.shape[-2:])}"
        )
    channels = x.shape[1]
    kernel = gaussian_window(window, sigma).to(x.device)
    kernel = kernel.expand(channels, 1, window, window).contiguous()
    x, y = x.double(), y.double()

    def blur(image: Tensor) -> Tensor:  # the window's weighted mean at every valid position
        return F.conv2d(image, kernel, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    return index.flatten(1).mean(1)


def translate(run: Run, inputs: Tensor, chunk: int = 64) -> Tensor:
    """The sampling generator's outputs for ``inputs`` (in chunks) as CPU float images."""
    parts = [
        run.sample(len(inputs[i : i + chunk]), condition=inputs[i : i + chunk]).float().cpu()
        for i in range(0, len(inputs), chunk)
    ]
    return torch.cat(parts)


class PairedMetrics(Metric):
    """``psnr``, ``ssim`` and ``l1`` of the outputs for the first ``n_samples`` held-out inputs
    against their targets; with ``fd: true`` also ``fd`` (to all held-out targets) and
    ``fd_floor`` on the data set's feature network."""

    def __init__(self, n_samples: int = 500, fd: bool = True, feature_steps: int = 600) -> None:
        if n_samples < 1:
            raise ValueError("n_samples must be >= 1")
        self.n_samples, self.fd, self.feature_steps = n_samples, fd, feature_steps

    def __call__(self, run: Run) -> dict[str, float]:
        dataset = run.dataset
        if dataset is None or not hasattr(dataset, "all_inputs"):
            raise DataError("image.psnr_ssim needs paired data (image.sketch_pairs, pairs_folder)")
        held_out = dataset.held_out_set()
        if len(held_out) == 0:
            raise DataError("image.psnr_ssim needs held-out pairs: set data.held_out > 0")
        count = min(self.n_samples, len(held_out))
        inputs, targets = held_out.all_inputs()[:count], held_out.all_images()[:count]
        outputs = translate(run, inputs.to(run.device))
        unit = lambda images: (images.clamp(-1, 1) + 1) / 2  # noqa: E731  [-1, 1] -> [0, 1]
        figures = {
            "psnr": float(psnr(unit(outputs), unit(targets)).mean()),
            "ssim": float(ssim(unit(outputs), unit(targets)).mean()),
            "l1": float((outputs - targets).abs().mean()),
        }
        provenance = {"n_samples": count, "image_size": int(dataset.image_size)}
        if self.fd:
            features = feature_network(dataset, self.feature_steps)
            reference = real_features(features, dataset, "held_out")
            fake = features(outputs)
            figures["fd"] = frechet_distance(
                *gaussian_statistics(fake), *gaussian_statistics(reference)
            )
            figures["fd_floor"] = fd_floor(features, dataset, reference, count)
            provenance.update(feature_hash=features.hash, n_reference=len(reference))
        record(run, "image.psnr_ssim", figures, provenance)
        return figures
