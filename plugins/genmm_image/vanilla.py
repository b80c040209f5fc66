"""The original GAN's multilayer perceptrons (Goodfellow et al. 2014, "Generative Adversarial
Nets", section 5 and the MNIST model of the paper's code): the generator a mixture of
rectifier layers, the discriminator maxout layers with dropout.

G: z (100, uniform) -> 1200 ReLU -> 1200 ReLU -> pixels (tanh; the paper's sigmoid on
[0, 1] data, here [-1, 1]). D: pixels -> dropout 0.2 -> maxout 240 x 5 pieces -> dropout 0.5
-> maxout 240 x 5 -> dropout 0.5 -> one logit.

``image_size`` and ``channels`` left out come from the data's description (else 32 and 1).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from genmm_image.layers import check_latent, from_description


class Maxout(nn.Module):
    """``units`` outputs, each the maximum of ``pieces`` linear pieces (Goodfellow et al. 2013)."""

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: Tensor) -> Tensor:  # (B, in) -> (B, units)
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(-1)


class MLPGenerator(nn.Module):
    """z -> ``hidden`` ReLU layers -> an image of ``channels`` x ``image_size``^2 in [-1, 1]."""

    def __init__(
        self,
        latent_dim: int = 100,
        hidden: list[int] | None = None,
        image_size: int | None = None,
        channels: int | None = None,
        latent: Literal["uniform", "normal"] = "uniform",
        description: dict | None = None,
    ) -> None:
        super().__init__()
        image_size = from_description(description, "image_size", image_size, 32, "image_size")
        channels = from_description(description, "channels", channels, 1, "channels")
        self.latent_dim, self.latent = latent_dim, check_latent(latent)
        self.shape = (channels, image_size, image_size)
        widths = [latent_dim] + list(hidden or [1200, 1200])
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(width_in, width_out), nn.ReLU(inplace=True)]
        layers += [nn.Linear(widths[-1], math.prod(self.shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def sample_latent(self, n: int, device: torch.device | str) -> Tensor:
        if self.latent == "uniform":
            return torch.rand(n, self.latent_dim, device=device) * 2 - 1
        return torch.randn(n, self.latent_dim, device=device)

    def forward(self, z: Tensor) -> Tensor:  # (B, latent) -> (B, C, H, W)
        return self.net(z).view(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    """Image -> maxout layers (``units`` x ``pieces``) with dropout -> one logit."""

    def __init__(
        self,
        image_size: int | None = None,
        channels: int | None = None,
        units: list[int] | None = None,
        pieces: int = 5,
        input_dropout: float = 0.2,
        dropout: float = 0.5,
        description: dict | None = None,
    ) -> None:
        super().__init__()
        image_size = from_description(description, "image_size", image_size, 32, "image_size")
        channels = from_description(description, "channels", channels, 1, "channels")
        widths = [channels * image_size * image_size] + list(units or [240, 240])
        layers: list[nn.Module] = [nn.Flatten(), nn.Dropout(input_dropout)]
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            layers += [Maxout(width_in, width_out, pieces), nn.Dropout(dropout)]
        layers.append(nn.Linear(widths[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, 1)
        return self.net(x)
