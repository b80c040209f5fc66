"""MLP generator and discriminator of the vanilla GAN (Goodfellow et al. 2014), at the sizes
commonly used for the 2-D mixtures (Metz et al. 2017, appendix: fully connected, ReLU)."""

from __future__ import annotations

from torch import Tensor, nn


def mlp(sizes: list[int], activation: type[nn.Module], slope: float | None = None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index, (width_in, width_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(width_in, width_out))
        if index < len(sizes) - 2:
            layers.append(activation(slope) if slope is not None else activation())
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z ~ N(0, I) of ``latent_dim`` -> ``depth`` hidden ReLU layers of ``hidden`` -> R^out."""

    def __init__(
        self, latent_dim: int = 16, hidden: int = 256, depth: int = 3, out_features: int = 2
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = mlp([latent_dim] + [hidden] * depth + [out_features], nn.ReLU)

    def forward(self, z: Tensor) -> Tensor:  # (B, latent_dim) -> (B, out_features)
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """R^in -> ``depth`` hidden LeakyReLU(0.2) layers of ``hidden`` -> one logit.

    ``pack`` > 1 makes it a PacGAN discriminator (Lin et al. 2018, sec. 3): it judges ``pack``
    samples of the same kind at once, concatenated, which penalises mode collapse.
    """

    def __init__(
        self, in_features: int = 2, hidden: int = 256, depth: int = 3, pack: int = 1
    ) -> None:
        super().__init__()
        if pack < 1:
            raise ValueError("pack must be >= 1")
        self.pack = pack
        self.net = mlp([in_features * pack] + [hidden] * depth + [1], nn.LeakyReLU, 0.2)

    def forward(self, x: Tensor) -> Tensor:  # (B, in) -> (B / pack, 1)
        if self.pack > 1:
            if x.shape[0] % self.pack:
                raise ValueError(f"batch of {x.shape[0]} is not a multiple of pack={self.pack}")
            x = x.reshape(x.shape[0] // self.pack, -1)  # (B / pack, pack * in)
        return self.net(x)
