"""InfoGAN generator and discriminator with the Q head (Chen et al. 2016, "InfoGAN:
Interpretable Representation Learning by Information Maximizing Generative Adversarial Nets",
sec. 5 and appendix C, table 1, the MNIST networks).

Latent (sec. 6 / appendix C for MNIST): 62 noise variables z ~ N(0, I), one ten-way categorical
code c1 ~ Cat(K=10, p=0.1) as a one-hot vector and two continuous codes c2, c3 ~ U(-1, 1);
the generator input is ``[z | one_hot(c1) | c2, c3]`` (74 values).

Generator: FC 1024 - BN - ReLU; FC (R/4)^2 x 128 - BN - ReLU; 4x4 up-conv 64 stride 2 - BN -
ReLU; 4x4 up-conv ``channels`` stride 2 (tanh here, images are in [-1, 1]). The paper's
28x28 MNIST starts from 7x7; ``resolution`` R (16 or 32 for the digits) starts from R/4.

Discriminator / Q (sharing all layers but the last, sec. 5): 4x4 conv 64 stride 2 - lReLU;
4x4 conv 128 stride 2 - BN - lReLU; FC 1024 - BN - lReLU; then D: FC 1 (a logit) and
Q: FC 128 - BN - lReLU - FC (10 logits of c1, 2 means of c2, c3 and, with ``learn_std``, 2
log-standard deviations: the factored Gaussian Q(c_j | x) of sec. 5). Leaky slope 0.1.

``resolution`` and ``channels`` left out come from the data's description (its image size
and channels; else 32 and 1); given, they must match the data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmm_image.layers import from_description


def facts(description: dict | None, resolution: int | None, channels: int | None):
    """(resolution, channels): the arguments, else the data's, else 32 and 1."""
    resolution = from_description(description, "image_size", resolution, 32, "resolution")
    if resolution % 4:
        raise ValueError(f"resolution must be a multiple of 4, got {resolution}")
    return resolution, from_description(description, "channels", channels, 1, "channels")


class InfoGANGenerator(nn.Module):
    """[noise | one-hot categorical | continuous] (B, 74) -> image (B, channels, R, R)."""

    def __init__(
        self,
        resolution: int | None = None,
        channels: int | None = None,
        noise_dim: int = 62,
        categories: int = 10,
        continuous: int = 2,
        description: dict | None = None,
    ) -> None:
        super().__init__()
        resolution, channels = facts(description, resolution, channels)
        self.noise_dim, self.categories, self.continuous = noise_dim, categories, continuous
        self.latent_dim = noise_dim + categories + continuous
        self.start = resolution // 4
        self.resolution, self.channels = resolution, channels
        self.fc = nn.Sequential(
            nn.Linear(self.latent_dim, 1024),
            nn.BatchNorm1d(1024),
            nn.ReLU(True),
            nn.Linear(1024, 128 * self.start * self.start),
            nn.BatchNorm1d(128 * self.start * self.start),
            nn.ReLU(True),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1),  # (B, 128, R/4, R/4) -> (B, 64, R/2, R/2)
            nn.BatchNorm2d(64),
            nn.ReLU(True),
            nn.ConvTranspose2d(64, channels, 4, 2, 1),  # -> (B, channels, R, R)
            nn.Tanh(),
        )

    def sample_latent(self, n: int, device: torch.device | str) -> Tensor:
        """z ~ N(0, I), c1 ~ Cat(uniform) one-hot, c_j ~ U(-1, 1): (n, latent_dim)."""
        noise = torch.randn(n, self.noise_dim, device=device)
        category = torch.randint(self.categories, (n,), device=device)
        code = torch.rand(n, self.continuous, device=device) * 2 - 1
        return self.compose(noise, category, code)

    def compose(self, noise: Tensor, category: Tensor, code: Tensor) -> Tensor:
        one_hot = F.one_hot(category, self.categories).to(noise.dtype)
        return torch.cat([noise, one_hot, code], 1)

    def split(self, latent: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """latent -> (noise (B, 62), category index (B,), continuous codes (B, 2))."""
        noise = latent[:, : self.noise_dim]
        one_hot = latent[:, self.noise_dim : self.noise_dim + self.categories]
        code = latent[:, self.noise_dim + self.categories :]
        return noise, one_hot.argmax(1), code

    def forward(self, latent: Tensor) -> Tensor:
        x = self.fc(latent).view(-1, 128, self.start, self.start)  # (B, 128, R/4, R/4)
        return self.deconv(x)


class InfoGANDiscriminator(nn.Module):
    """Shared trunk; ``D(x)`` gives the real/fake logit (B, 1), :meth:`infer` also Q's output."""

    def __init__(
        self,
        resolution: int | None = None,
        channels: int | None = None,
        categories: int = 10,
        continuous: int = 2,
        learn_std: bool = False,
        slope: float = 0.1,
        description: dict | None = None,
    ) -> None:
        super().__init__()
        resolution, channels = facts(description, resolution, channels)
        self.categories, self.continuous, self.learn_std = categories, continuous, learn_std
        side = resolution // 4
        self.trunk = nn.Sequential(
            nn.Conv2d(channels, 64, 4, 2, 1),  # (B, C, R, R) -> (B, 64, R/2, R/2)
            nn.LeakyReLU(slope, True),
            nn.Conv2d(64, 128, 4, 2, 1),  # -> (B, 128, R/4, R/4)
            nn.BatchNorm2d(128),
            nn.LeakyReLU(slope, True),
            nn.Flatten(),
            nn.Linear(128 * side * side, 1024),  # -> (B, 1024)
            nn.BatchNorm1d(1024),
            nn.LeakyReLU(slope, True),
        )
        self.d_head = nn.Linear(1024, 1)
        q_outputs = categories + continuous * (2 if learn_std else 1)
        self.q_head = nn.Sequential(
            nn.Linear(1024, 128),
            nn.BatchNorm1d(128),
            nn.LeakyReLU(slope, True),
            nn.Linear(128, q_outputs),
        )

    def forward(self, image: Tensor) -> Tensor:  # (B, C, R, R) -> (B, 1)
        return self.d_head(self.trunk(image))

    def infer(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """(logit (B, 1), {"logits": (B, K), "mean": (B, J), "log_std": (B, J)})."""
        features = self.trunk(image)
        q = self.q_head(features)
        mean = q[:, self.categories : self.categories + self.continuous]
        if self.learn_std:
            log_std = q[:, self.categories + self.continuous :]
        else:
            log_std = torch.zeros_like(mean)
        return self.d_head(features), {
            "logits": q[:, : self.categories],
            "mean": mean,
            "log_std": log_std,
        }
