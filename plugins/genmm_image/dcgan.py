"""DCGAN (Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks").

Section 3 (architecture guidelines) and figure 1, followed exactly:

* no pooling: strided convolutions in D, fractionally-strided (transposed) convolutions in G;
* batch normalisation in both, except G's output layer and D's input layer;
* no fully connected hidden layers: G's first layer is a matrix multiplication that projects
  and reshapes z to a 4x4 map, D's last convolution is flattened into a single sigmoid output;
* ReLU in G with tanh at its output; LeakyReLU with slope 0.2 in D;
* figure 1: 100-d uniform z, 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3,
  5x5 kernels with stride 2 (``width`` = 128 feature maps in the last hidden layer);
* section 4: weights from N(0, 0.02); Adam, lr 0.0002, beta1 0.5; mini-batches of 128.

At 32x32 the same rules give 4x4x(4 width) -> 8x8x(2 width) -> 16x16xwidth -> 32x32xC.
``kernel_size: 4`` gives the variant of pytorch/examples (ngf = ndf = 64).

``image_size`` and ``channels`` left out come from the data's description (else 64 and 3, the
paper's); given, they must match the data.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from genmm_image.layers import (
    DownsamplingTrunk,
    MinibatchStd,
    UpsamplingTrunk,
    check_latent,
    dcgan_init,
    draw_latent,
    from_description,
    maybe_spectral,
)


class DCGANGenerator(nn.Module):
    """z -> project and reshape to 4x4 -> fractionally-strided convolutions -> tanh image."""

    def __init__(
        self,
        latent_dim: int = 100,
        image_size: int | None = None,
        channels: int | None = None,
        width: int = 128,
        kernel_size: int = 5,
        latent: Literal["uniform", "normal"] = "uniform",
        description: dict | None = None,
    ) -> None:
        super().__init__()
        image_size = from_description(description, "image_size", image_size, 64, "image_size")
        channels = from_description(description, "channels", channels, 3, "channels")
        self.latent_dim, self.latent = latent_dim, check_latent(latent)
        self.image_size, self.channels = image_size, channels
        self.trunk = UpsamplingTrunk(latent_dim, image_size, channels, width, kernel_size)
        dcgan_init(self)

    def sample_latent(self, n: int, device: torch.device | str) -> Tensor:
        return draw_latent(self.latent, n, self.latent_dim, device)

    def forward(self, z: Tensor) -> Tensor:  # (B, latent_dim) -> (B, C, H, W)
        return self.trunk(z)


class DCGANDiscriminator(nn.Module):
    """Image -> strided convolutions (LeakyReLU 0.2, BN from the second) -> flatten -> logit.

    Options beyond the paper, off by default: ``minibatch_std`` (Karras et al. 2018) before
    the output layer, ``spectral_norm`` (Miyato et al. 2018), ``features: true`` returns
    ``(scores, [block outputs])`` for feature matching (Salimans et al. 2016, sec. 3.1).
    """

    conditional = False

    def __init__(
        self,
        image_size: int | None = None,
        channels: int | None = None,
        width: int = 128,
        kernel_size: int = 5,
        slope: float = 0.2,
        batch_norm: bool = True,
        spectral_norm: bool = False,
        minibatch_std: bool = False,
        features: bool = False,
        description: dict | None = None,
    ) -> None:
        super().__init__()
        image_size = from_description(description, "image_size", image_size, 64, "image_size")
        channels = from_description(description, "channels", channels, 3, "channels")
        self.image_size, self.channels = image_size, channels
        self.return_features = features
        self.trunk = DownsamplingTrunk(
            channels, image_size, width, kernel_size, slope, batch_norm, spectral_norm
        )
        self.minibatch_std = MinibatchStd() if minibatch_std else None
        flat = 16 * (self.trunk.last_width + (1 if minibatch_std else 0))
        self.output = maybe_spectral(nn.Linear(flat, 1), spectral_norm)  # (B, 16 C) -> (B, 1)
        dcgan_init(self)

    def head(self, h: Tensor) -> Tensor:  # (B, last_width, 4, 4) -> (B, 1)
        if self.minibatch_std is not None:
            h = self.minibatch_std(h)
        return self.output(h.flatten(1))

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, list[Tensor]]:
        outputs = self.trunk(x)
        scores = self.head(outputs[-1])
        return (scores, outputs) if self.return_features else scores
