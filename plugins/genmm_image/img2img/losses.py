"""Reconstruction terms of image-to-image translation: ``image.l1`` (pix2pix), ``image.mse``
(SRResNet / SRGAN, the completion network) and ``image.feature_content`` (SRGAN's feature
content loss on the image plugin's own feature network).

The L1 term of pix2pix (Isola et al. 2017, section 3.1, eq. 3 and 4):
G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G), L_L1 = E ||y - G(x)||_1, lambda = 100.
It compares the generator's output with the ground truth of the same pair (the batch's
``real``: the target image, while the input image is the ``condition``). A ``generator`` term
of the core's loss zoo contract: ``core.gan`` adds it to G's loss scaled by ``weight``; the
other terms are the same kind.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from genmm.losses import Context, Loss


class L1Reconstruction(Loss):
    """Mean absolute error between G(x) and the ground truth y; weight = lambda = 100."""

    role: ClassVar[str] = "generator"

    def __init__(self, weight: float = 100.0, every: int = 1) -> None:
        super().__init__(weight=weight, every=every)

    def __call__(self, context: Context) -> Tensor:
        return F.l1_loss(context.fake, context.real.detach())


class MSEReconstruction(Loss):
    """Mean squared error between G(x) and the ground truth y: SRResNet's and SRGAN's pixel
    content loss (Ledig et al. 2017, eq. 4, l_MSE) and the completion network's reconstruction
    loss (Iizuka et al. 2017, eq. 1, ||M_c * (C(x, M_c) - x)||^2: the completion network's output
    equals its input outside the hole, so the mean over the image is that masked sum divided
    by the number of values)."""

    role: ClassVar[str] = "generator"

    def __init__(self, weight: float = 1.0, every: int = 1) -> None:
        super().__init__(weight=weight, every=every)

    def __call__(self, context: Context) -> Tensor:
        return F.mse_loss(context.fake, context.real.detach())


class FeatureContent(Loss):
    """SRGAN's feature content loss (Ledig et al. 2017, eq. 5, l_VGG/i.j: the squared distance
    between feature maps of a fixed network on the real and the super-resolved image) on the
    image plugin's own feature network instead of VGG19. No ImageNet weights can be had
    offline: the network is the classifier of ``image.fd``, trained on the run's own training
    images and labels (``steps`` steps, cached; the same network the Fréchet distance uses),
    and its last convolutional maps (128 x 4 x 4 of the image seen at 32 x 32, the deepest, as
    the paper's VGG54) are compared. The trainer attaches the data set
    (:meth:`attach`) before the first step."""

    role: ClassVar[str] = "generator"

    def __init__(self, weight: float = 1.0, steps: int = 600, every: int = 1) -> None:
        super().__init__(weight=weight, every=every)
        self.steps = steps
        self.network = None

    def attach(self, dataset) -> None:
        from genmm_image.metrics import feature_network

        self.network = feature_network(dataset, self.steps).module

    def maps(self, images: Tensor) -> Tensor:
        network = self.network
        return network.body[:-2](network.prepare(images))  # before the pooling: (B, 128, 4, 4)

    def __call__(self, context: Context) -> Tensor:
        if self.network is None:
            raise RuntimeError(
                "image.feature_content needs the run's data set: its trainer attaches it "
                "(image.srgan, image.supervised)"
            )
        network = self.network.to(context.fake.device)
        self.network = network
        with torch.no_grad():
            target = self.maps(context.real)
        return F.mse_loss(self.maps(context.fake), target)
