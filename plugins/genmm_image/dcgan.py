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
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from genmm_image.layers import MinibatchStd, dcgan_init, maybe_spectral


def stages(image_size: int) -> int:
    """Number of stride-2 layers between 4x4 and ``image_size`` (a power of two >= 8)."""
    count = int(round(math.log2(image_size / 4)))
    if image_size < 8 or 4 * 2**count != image_size:
        raise ValueError(f"image_size must be a power of two >= 8, got {image_size}")
    return count


def check_dataset(dataset: Any, image_size: int, channels: int, num_classes: int = 0) -> None:
    """A clear error when the model does not fit the recipe's data."""
    if dataset is None or not hasattr(dataset, "image_size"):
        return
    if dataset.image_size != image_size or dataset.channels != channels:
        raise ValueError(
            f"the model is for {channels}x{image_size}x{image_size} images but the data set "
            f"gives {dataset.channels}x{dataset.image_size}x{dataset.image_size}: set "
            f"image_size: {dataset.image_size} and channels: {dataset.channels}"
        )
    if num_classes and dataset.num_classes != num_classes:
        raise ValueError(
            f"num_classes is {num_classes} but the data set has {dataset.num_classes} classes"
        )


def padding_for(kernel_size: int) -> tuple[int, int]:
    """(padding, output_padding) so that a stride-2 (transposed) convolution halves (doubles)."""
    return (kernel_size - 1) // 2, kernel_size % 2


class DCGANGenerator(nn.Module):
    """z -> project and reshape to 4x4 -> fractionally-strided convolutions -> tanh image."""

    def __init__(
        self,
        latent_dim: int = 100,
        image_size: int = 64,
        channels: int = 3,
        width: int = 128,
        kernel_size: int = 5,
        latent: str = "uniform",
        dataset: Any = None,
    ) -> None:
        super().__init__()
        check_dataset(dataset, image_size, channels)
        if latent not in ("uniform", "normal"):
            raise ValueError("latent must be 'uniform' (the paper) or 'normal'")
        self.latent_dim, self.latent = latent_dim, latent
        self.image_size, self.channels = image_size, channels
        self.build(latent_dim, image_size, channels, width, kernel_size)
        dcgan_init(self)

    def build(
        self, in_features: int, image_size: int, channels: int, width: int, kernel_size: int
    ) -> None:
        count = stages(image_size)
        widths = [width * 2 ** (count - 1 - i) for i in range(count)] + [channels]
        self.start = widths[0]
        self.project = nn.Linear(in_features, 16 * widths[0], bias=False)  # (B, z) -> (B, 16 C0)
        self.project_norm = nn.BatchNorm2d(widths[0])
        padding, extra = padding_for(kernel_size)
        layers: list[nn.Module] = []
        for index, (width_in, width_out) in enumerate(zip(widths[:-1], widths[1:])):
            last = index == count - 1
            layers.append(
                nn.ConvTranspose2d(
                    width_in, width_out, kernel_size, 2, padding, extra, bias=last
                )  # (B, Cin, S, S) -> (B, Cout, 2S, 2S)
            )
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(width_out), nn.ReLU(inplace=True)]
        self.layers = nn.Sequential(*layers)

    def sample_latent(self, n: int, device: torch.device | str) -> Tensor:
        if self.latent == "uniform":
            return torch.rand(n, self.latent_dim, device=device).mul_(2).sub_(1)
        return torch.randn(n, self.latent_dim, device=device)

    def synthesize(self, code: Tensor) -> Tensor:
        x = self.project(code).view(code.shape[0], self.start, 4, 4)  # (B, C0, 4, 4)
        x = torch.relu_(self.project_norm(x))
        return self.layers(x)  # (B, C, image_size, image_size)

    def forward(self, z: Tensor) -> Tensor:
        return self.synthesize(z)


class DCGANDiscriminator(nn.Module):
    """Image -> strided convolutions (LeakyReLU 0.2, BN from the second) -> flatten -> logit.

    Options beyond the paper, off by default: ``minibatch_std`` (Karras et al. 2018) before
    the output layer, ``spectral_norm`` (Miyato et al. 2018), ``features: true`` returns
    ``(scores, [block outputs])`` for feature matching (Salimans et al. 2016, sec. 3.1).
    """

    conditional = False

    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        width: int = 128,
        kernel_size: int = 5,
        slope: float = 0.2,
        batch_norm: bool = True,
        spectral_norm: bool = False,
        minibatch_std: bool = False,
        features: bool = False,
        dataset: Any = None,
    ) -> None:
        super().__init__()
        check_dataset(dataset, image_size, channels)
        self.image_size, self.channels = image_size, channels
        self.return_features = features
        self.blocks = self.trunk(
            channels, image_size, width, kernel_size, slope, batch_norm, spectral_norm
        )
        self.last_width = width * 2 ** (stages(image_size) - 1)
        self.minibatch_std = MinibatchStd() if minibatch_std else None
        flat = 16 * (self.last_width + (1 if minibatch_std else 0))
        self.output = maybe_spectral(nn.Linear(flat, 1), spectral_norm)  # (B, 16 C) -> (B, 1)
        dcgan_init(self)

    @staticmethod
    def trunk(
        in_channels: int,
        image_size: int,
        width: int,
        kernel_size: int,
        slope: float,
        batch_norm: bool,
        spectral_norm: bool,
    ) -> nn.ModuleList:
        count = stages(image_size)
        widths = [in_channels] + [width * 2**i for i in range(count)]
        padding, _ = padding_for(kernel_size)
        blocks = nn.ModuleList()
        for index, (width_in, width_out) in enumerate(zip(widths[:-1], widths[1:])):
            norm = batch_norm and index > 0
            conv = nn.Conv2d(width_in, width_out, kernel_size, 2, padding, bias=not norm)
            layers: list[nn.Module] = [maybe_spectral(conv, spectral_norm)]  # (B,Ci,S,S)->S/2
            if norm:
                layers.append(nn.BatchNorm2d(width_out))
            layers.append(nn.LeakyReLU(slope, inplace=True))
            blocks.append(nn.Sequential(*layers))
        return blocks

    def features_of(self, x: Tensor) -> list[Tensor]:
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return outputs  # last: (B, last_width, 4, 4)

    def head(self, h: Tensor) -> Tensor:
        if self.minibatch_std is not None:
            h = self.minibatch_std(h)
        return self.output(h.flatten(1))  # (B, 1)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, list[Tensor]]:
        outputs = self.features_of(x)
        scores = self.head(outputs[-1])
        return (scores, outputs) if self.return_features else scores
