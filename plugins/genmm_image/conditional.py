"""Conditional GANs: the class label is given to both players.

* Generator: a learned label embedding concatenated with z (Mirza & Osindero 2014,
  "Conditional Generative Adversarial Nets", section 3.2: "y is fed into both the
  discriminator and generator as additional input layer"), then the DCGAN generator.
* :class:`ConcatDiscriminator`: the label as extra input: one-hot maps concatenated to the
  image channels (Mirza & Osindero 2014, section 3.2, figure 1), then the DCGAN discriminator.
* :class:`ProjectionDiscriminator`: the inner product of a class embedding with D's pooled
  features added to the unconditional output, f(x, y) = psi(phi(x)) + y^T V phi(x)
  (Miyato & Koyama 2018, "cGANs with Projection Discriminator", eq. 3 and figure 1), with
  spectral normalisation and no batch normalisation in D, as in the paper's experiments.

``num_classes``, ``image_size`` and ``channels`` left out come from the data's description
(else 10, 32 and 1); given, they must match the data.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmm_image.dcgan import DCGANDiscriminator
from genmm_image.layers import (
    DownsamplingTrunk,
    UpsamplingTrunk,
    check_latent,
    dcgan_init,
    draw_latent,
    from_description,
    maybe_spectral,
)


def facts(
    description: dict | None, num_classes: int | None, image_size: int | None, channels: int | None
) -> tuple[int, int, int]:
    """(num_classes, image_size, channels): the arguments, else the data's, else 10, 32, 1."""
    return (
        from_description(description, "num_classes", num_classes, 10, "num_classes"),
        from_description(description, "image_size", image_size, 32, "image_size"),
        from_description(description, "channels", channels, 1, "channels"),
    )


class ConditionalGenerator(nn.Module):
    """(z, label) -> [z, embedding(label)] -> the DCGAN generator trunk."""

    def __init__(
        self,
        num_classes: int | None = None,
        embedding_dim: int = 50,
        latent_dim: int = 100,
        image_size: int | None = None,
        channels: int | None = None,
        width: int = 64,
        kernel_size: int = 5,
        latent: Literal["uniform", "normal"] = "uniform",
        description: dict | None = None,
    ) -> None:
        super().__init__()
        num_classes, image_size, channels = facts(description, num_classes, image_size, channels)
        self.num_classes, self.latent_dim, self.latent = (
            num_classes,
            latent_dim,
            check_latent(latent),
        )
        self.image_size, self.channels = image_size, channels
        self.embedding = nn.Embedding(num_classes, embedding_dim)  # (B,) -> (B, E)
        self.trunk = UpsamplingTrunk(
            latent_dim + embedding_dim, image_size, channels, width, kernel_size
        )
        dcgan_init(self)

    def sample_latent(self, n: int, device: torch.device | str) -> Tensor:
        return draw_latent(self.latent, n, self.latent_dim, device)

    def sample_condition(self, n: int, device: torch.device | str) -> Tensor:
        """Random labels, uniform over the classes (used when sampling without labels)."""
        return torch.randint(self.num_classes, (n,), device=device)

    def forward(self, z: Tensor, label: Tensor) -> Tensor:  # (B, z), (B,) -> (B, C, H, W)
        return self.trunk(torch.cat([z, self.embedding(label.long())], 1))  # (B, z + E)


class ConcatDiscriminator(DCGANDiscriminator):
    """[image, one-hot label maps] -> the DCGAN discriminator (Mirza & Osindero 2014)."""

    conditional = True

    def __init__(
        self,
        num_classes: int | None = None,
        image_size: int | None = None,
        channels: int | None = None,
        width: int = 64,
        kernel_size: int = 5,
        slope: float = 0.2,
        batch_norm: bool = True,
        spectral_norm: bool = False,
        minibatch_std: bool = False,
        features: bool = False,
        description: dict | None = None,
    ) -> None:
        num_classes, image_size, channels = facts(description, num_classes, image_size, channels)
        options = dict(width=width, kernel_size=kernel_size, slope=slope, batch_norm=batch_norm)
        options.update(spectral_norm=spectral_norm, minibatch_std=minibatch_std, features=features)
        super().__init__(image_size, channels + num_classes, **options)
        self.channels, self.num_classes = channels, num_classes

    def forward(self, x: Tensor, label: Tensor):  # (B, C, H, W), (B,) -> (B, 1)
        maps = F.one_hot(label.long(), self.num_classes).to(x.dtype)  # (B, K)
        maps = maps[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return super().forward(torch.cat([x, maps], 1))  # (B, C + K, H, W)


class ProjectionDiscriminator(nn.Module):
    """DCGAN trunk -> phi(x) (global sum pooling) -> psi(phi) + <V y, phi> (Miyato & Koyama)."""

    conditional = True

    def __init__(
        self,
        num_classes: int | None = None,
        image_size: int | None = None,
        channels: int | None = None,
        width: int = 64,
        kernel_size: int = 5,
        slope: float = 0.2,
        batch_norm: bool = False,
        spectral_norm: bool = True,
        features: bool = False,
        description: dict | None = None,
    ) -> None:
        super().__init__()
        num_classes, image_size, channels = facts(description, num_classes, image_size, channels)
        self.num_classes, self.image_size, self.channels = num_classes, image_size, channels
        self.return_features = features
        self.trunk = DownsamplingTrunk(
            channels, image_size, width, kernel_size, slope, batch_norm, spectral_norm
        )
        last = self.trunk.last_width
        self.psi = maybe_spectral(nn.Linear(last, 1), spectral_norm)  # (B, C) -> (B, 1)
        self.embedding = maybe_spectral(nn.Embedding(num_classes, last), spectral_norm)  # V
        dcgan_init(self)

    def forward(self, x: Tensor, label: Tensor):  # (B, C, H, W), (B,) -> (B, 1)
        outputs = self.trunk(x)
        phi = outputs[-1].sum(dim=(2, 3))  # (B, C): global sum pooling
        projection = (self.embedding(label.long()) * phi).sum(1, keepdim=True)  # (B, 1)
        scores = self.psi(phi) + projection
        return (scores, outputs) if self.return_features else scores
