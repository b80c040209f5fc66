"""Figures of image-to-image translation, on the held-out data; each beside its baseline.

``image.psnr_ssim`` (paired translation, pix2pix):

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

``image.cycle_metrics`` (CycleGAN), ``image.sr_metrics`` (SRGAN) and
``image.inpaint_metrics`` (image completion) are documented on their classes below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from genmm.errors import DataError
from genmm.metrics import Metric, frechet_distance, gaussian_statistics
from genmm_image.data import ImageDataset
from genmm_image.img2img.data import diffusion_fill, upsample_bicubic
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


def translate(run: Run, inputs: Tensor, chunk: int = 64, role: str = "generator") -> Tensor:
    """The sampling generator's outputs for ``inputs`` (in chunks) as CPU float images."""
    parts = []
    with run.evaluating(seed=0):
        for i in range(0, len(inputs), chunk):
            part = inputs[i : i + chunk].to(run.device)
            parts.append(run.sample(len(part), condition=part, role=role).float().cpu())
    return torch.cat(parts)


def unit(images: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1], clamped."""
    return (images.clamp(-1, 1) + 1) / 2


def frechet_beside_floor(dataset, outputs: dict[str, Tensor], feature_steps: int) -> dict:
    """The Fréchet distance of each set of ``outputs`` to the held-out images of ``dataset`` on
    its feature network, and the real-vs-real floor (as many training images)."""
    features = feature_network(dataset, feature_steps)
    reference = real_features(features, dataset, "held_out")
    figures = {
        name: frechet_distance(*gaussian_statistics(features(images)),
                               *gaussian_statistics(reference))
        for name, images in outputs.items()
    }  # fmt: skip
    count = len(next(iter(outputs.values())))
    figures["fd_floor"] = fd_floor(features, dataset, reference, count)
    return figures, {"feature_hash": features.hash, "n_reference": len(reference)}


class HeldOutMetric(Metric):
    """What the four figures below share: ``n_samples`` (at least 1) held-out items of the data
    set each takes (:meth:`takes`, else a :class:`DataError` naming what it ``needs``); an
    empty held-out set is a :class:`DataError` naming ``data.held_out`` and the metric; with
    ``fd: true`` the Fréchet distances on the data set's feature network (``feature_steps``)."""

    registered_name: str
    #: the data the metric takes, as its error says it: "paired data (image.sketch_pairs, ...)"
    needs: str
    #: the held-out items it measures on, as its error says them
    held_out_items = "held-out images"

    def __init__(self, n_samples: int = 500, fd: bool = True, feature_steps: int = 600) -> None:
        if n_samples < 1:
            raise ValueError("n_samples must be >= 1")
        self.n_samples, self.fd, self.feature_steps = n_samples, fd, feature_steps

    def takes(self, dataset: ImageDataset) -> bool:
        """Whether ``dataset`` is of the kind the metric measures."""
        raise NotImplementedError

    def held_out_data(self, run: Run) -> tuple[ImageDataset, ImageDataset]:
        """The run's data set and its held-out set, both checked."""
        dataset = run.dataset
        if dataset is None or not self.takes(dataset):
            raise DataError(f"{self.registered_name} needs {self.needs}")
        empty = f"{self.registered_name} needs {self.held_out_items}: set data.held_out > 0"
        try:
            held_out = dataset.held_out_set()
        except DataError as error:  # a data set that refuses an empty split says so itself
            raise DataError(f"{empty} ({error})") from error
        if len(held_out) == 0:
            raise DataError(empty)
        return dataset, held_out

    def add_frechet(self, dataset: ImageDataset, outputs: dict[str, Tensor], figures: dict,
                    provenance: dict) -> None:  # fmt: skip
        """With ``fd: true``, :func:`frechet_beside_floor` of ``outputs`` into ``figures`` and
        the feature network's facts into ``provenance``."""
        if self.fd:
            distances, more = frechet_beside_floor(dataset, outputs, self.feature_steps)
            figures.update(distances)
            provenance.update(more)


class PairedMetrics(HeldOutMetric):
    """``psnr``, ``ssim`` and ``l1`` of the outputs for the first ``n_samples`` held-out inputs
    against their targets; with ``fd: true`` also ``fd`` (to all held-out targets) and
    ``fd_floor`` on the data set's feature network."""

    registered_name = "image.psnr_ssim"
    needs = "paired data (image.sketch_pairs, pairs_folder)"
    held_out_items = "held-out pairs"

    def takes(self, dataset: ImageDataset) -> bool:
        return hasattr(dataset, "all_inputs")

    def __call__(self, run: Run) -> dict[str, float]:
        dataset, held_out = self.held_out_data(run)
        count = min(self.n_samples, len(held_out))
        inputs, targets = held_out.all_inputs()[:count], held_out.all_images()[:count]
        outputs = translate(run, inputs.to(run.device))
        figures = {
            "psnr": float(psnr(unit(outputs), unit(targets)).mean()),
            "ssim": float(ssim(unit(outputs), unit(targets)).mean()),
            "l1": float((outputs - targets).abs().mean()),
        }
        provenance = {"n_samples": count, "image_size": int(dataset.image_size)}
        self.add_frechet(dataset, {"fd": outputs}, figures, provenance)
        record(run, self.registered_name, figures, provenance)
        return figures


# ====================================================================== CycleGAN
class DomainView(ImageDataset):
    """The training images of both domains of an unpaired data set, labelled by domain (A 0,
    B 1): what the domain classifier (the image plugin's feature network) is trained on."""

    registered_name = "image.domains_of"

    def __init__(self, dataset) -> None:
        super().__init__(conditional=False, split="train")
        train = dataset if dataset.split == "train" else dataset.other_split("train")
        self.arguments = {**train.arguments, "view": f"domains of {train.registered_name}"}
        self.images = torch.cat([train.inputs, train.images])
        self.labels = torch.cat(
            [torch.zeros(len(train.inputs)), torch.ones(len(train.images))]
        ).long()
        self.class_names = ["A", "B"]


class CycleMetrics(HeldOutMetric):
    """CycleGAN's figures on the first ``n_samples`` held-out images of each domain:

    * ``share_ab`` / ``share_ba``: the share of G(a) that a domain classifier (the image
      plugin's feature network trained ``classifier_steps`` steps to tell the training images
      of A from those of B) assigns to B, and of F(b) assigned to A; beside ``share_real``, its
      accuracy on the held-out real images (the ceiling), and ``share_untranslated``, the share
      of the inputs themselves assigned to the other domain (the floor);
    * ``cycle_psnr_a`` / ``cycle_psnr_b``: PSNR of F(G(a)) against a and G(F(b)) against b;
    * ``fd_ab``: the Fréchet distance of G(a) to the held-out B images on the data set's
      feature network, beside ``fd_untranslated`` (the inputs a themselves) and ``fd_floor``;
    * on held-out data with both renderings of each scene (``image.two_domains``):
      ``psnr_ab`` / ``psnr_ba`` against the other rendering, and ``psnr_untranslated``.
    """

    registered_name = "image.cycle_metrics"
    needs = "unpaired data (image.two_domains, image.unpaired_folder)"
    held_out_items = "held-out images of both domains"

    def __init__(
        self, n_samples: int = 500, fd: bool = True, feature_steps: int = 600,
        classifier_steps: int = 300,
    ) -> None:  # fmt: skip
        super().__init__(n_samples, fd, feature_steps)
        self.classifier_steps = classifier_steps

    def takes(self, dataset: ImageDataset) -> bool:
        return hasattr(dataset, "input_labels")

    def __call__(self, run: Run) -> dict[str, float]:
        dataset, held_out = self.held_out_data(run)
        count = min(self.n_samples, len(held_out.inputs), len(held_out.images))
        a, b = held_out.all_inputs()[:count], held_out.all_images()[:count]
        fake_b = translate(run, a, role="generator")
        fake_a = translate(run, b, role="generator_ba")
        cycle_a = translate(run, fake_b, role="generator_ba")
        cycle_b = translate(run, fake_a, role="generator")
        classifier = feature_network(DomainView(dataset), self.classifier_steps)
        real_share = torch.cat([classifier.predict(a) == 0, classifier.predict(b) == 1])
        untranslated = torch.cat([classifier.predict(a) == 1, classifier.predict(b) == 0])
        figures = {
            "share_ab": float((classifier.predict(fake_b) == 1).double().mean()),
            "share_ba": float((classifier.predict(fake_a) == 0).double().mean()),
            "share_real": float(real_share.double().mean()),
            "share_untranslated": float(untranslated.double().mean()),
            "cycle_psnr_a": float(psnr(unit(cycle_a), unit(a)).mean()),
            "cycle_psnr_b": float(psnr(unit(cycle_b), unit(b)).mean()),
        }
        if getattr(held_out, "paired", False):
            figures["psnr_ab"] = float(psnr(unit(fake_b), unit(b)).mean())
            figures["psnr_ba"] = float(psnr(unit(fake_a), unit(a)).mean())
            figures["psnr_untranslated"] = float(psnr(unit(a), unit(b)).mean())
        provenance = {"n_samples": count, "classifier_hash": classifier.hash}
        self.add_frechet(dataset, {"fd_ab": fake_b, "fd_untranslated": a}, figures, provenance)
        record(run, self.registered_name, figures, provenance)
        return figures


# ====================================================================== super-resolution
class SRMetrics(HeldOutMetric):
    """Super-resolution on the first ``n_samples`` held-out pairs, against bicubic upsampling
    of the same low-resolution inputs: ``psnr`` / ``ssim`` (RGB, whole image, [0, 1]) of the
    generator's output and ``psnr_bicubic`` / ``ssim_bicubic``; with ``fd: true`` ``fd`` and
    ``fd_bicubic`` to all held-out HR images on the data set's feature network (trained on the
    HR images), beside ``fd_floor``."""

    registered_name = "image.sr_metrics"
    needs = "super-resolution pairs (image.sr_pairs)"
    held_out_items = "held-out pairs"

    def takes(self, dataset: ImageDataset) -> bool:
        return "factor" in dataset.arguments

    def __call__(self, run: Run) -> dict[str, float]:
        dataset, held_out = self.held_out_data(run)
        count = min(self.n_samples, len(held_out))
        low, high = held_out.all_inputs()[:count], held_out.all_images()[:count]
        outputs = translate(run, low).clamp(-1, 1)
        bicubic = upsample_bicubic(low, dataset.arguments["factor"])
        figures = {
            "psnr": float(psnr(unit(outputs), unit(high)).mean()),
            "psnr_bicubic": float(psnr(unit(bicubic), unit(high)).mean()),
            "ssim": float(ssim(unit(outputs), unit(high)).mean()),
            "ssim_bicubic": float(ssim(unit(bicubic), unit(high)).mean()),
        }
        provenance = {"n_samples": count, "factor": dataset.arguments["factor"]}
        self.add_frechet(dataset, {"fd": outputs, "fd_bicubic": bicubic}, figures, provenance)
        record(run, self.registered_name, figures, provenance)
        return figures


# ====================================================================== inpainting
def hole_psnr(outputs: Tensor, targets: Tensor, masks: Tensor, pooled: bool = False) -> Tensor:
    """PSNR in dB inside each hole only (images in [-1, 1] compared on [0, 1]) -> (N,), or
    with ``pooled`` one figure from the squared error of every hole pixel of every image (a
    hole the fill gets exactly right, as a diffusion fill does in a flat background, gives an
    unbounded per-image PSNR; pooled, it adds zero error and no infinity)."""
    error = (unit(outputs).double() - unit(targets).double()).pow(2) * masks.double()
    values = masks.double().flatten(1).sum(1) * outputs.shape[1]
    if pooled:
        return 10 * torch.log10(values.sum().clamp_min(1) / error.sum().clamp_min(1e-20))
    return 10 * torch.log10(values.clamp_min(1) / error.flatten(1).sum(1).clamp_min(1e-20))


class InpaintMetrics(HeldOutMetric):
    """Image completion on the first ``n_samples`` held-out images with their fixed masks:
    ``psnr_hole`` (PSNR of the squared error pooled over every hole pixel) of the completion
    network against ``psnr_hole_fill`` of :func:`diffusion_fill` (non-learned), each with the
    median of the per-image PSNRs (``…_median``); ``outside_change``, the largest change of a
    pixel outside the hole (0: the input is kept there); with ``fd: true`` ``fd`` and
    ``fd_fill`` of the completed images to all held-out images, beside ``fd_floor``."""

    registered_name = "image.inpaint_metrics"
    needs = "masked images (image.masked)"

    def takes(self, dataset: ImageDataset) -> bool:
        return hasattr(dataset, "masks")

    def __call__(self, run: Run) -> dict[str, float]:
        dataset, held_out = self.held_out_data(run)
        count = min(self.n_samples, len(held_out))
        images, masks = held_out.all_images()[:count], held_out.masks[:count].float()
        inputs = held_out.fill(images, masks)
        outputs = translate(run, inputs).clamp(-1, 1)
        filled = diffusion_fill(images, masks)
        outside = ((outputs - images).abs() * (1 - masks)).amax()
        figures = {"outside_change": float(outside)}
        for key, completed in (("psnr_hole", outputs), ("psnr_hole_fill", filled)):
            figures[key] = float(hole_psnr(completed, images, masks, pooled=True))
            figures[key + "_median"] = float(hole_psnr(completed, images, masks).median())
        provenance = {"n_samples": count, "hole_share": float(masks.mean())}
        self.add_frechet(dataset, {"fd": outputs, "fd_fill": filled}, figures, provenance)
        record(run, self.registered_name, figures, provenance)
        return figures
