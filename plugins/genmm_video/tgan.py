"""TGAN: Saito, Matsumoto & Saito, "Temporal Generative Adversarial Nets with Singular Value
Clipping", ICCV 2017 (arXiv:1611.06624).

* :class:`TGANGenerator` (sec. 3.1, fig. 2): a *temporal generator* of 1-D transposed
  convolutions maps z_slow (100, uniform in [-1, 1]) to one latent z_fast (100) per frame;
  an *image generator* maps each (z_slow, z_fast_t) pair to a frame (two linear layers,
  concatenated to (512, 4, 4), then 2-D transposed convolutions with batch normalisation).
* :class:`TGANDiscriminator` (sec. 3.1): 3-D convolutions (4, stride 2) with batch
  normalisation and leaky ReLU (0.2), one score per clip.
* :class:`SVCWassersteinLoss` (``video.wgan_svc``, sec. 3.2-3.3): the WGAN objective whose
  Lipschitz constraint is singular value clipping: after discriminator updates, every conv /
  linear weight reshaped to (out, in x k...) has its singular values clipped to 1, and each
  batch-norm gain gamma to [0.01 sigma, sigma] (sigma its running standard deviation), so that
  every layer is 1-Lipschitz. The paper clips once every 5 iterations (``clip_every``).
  WGAN-GP (``core.wgan_gp``) is the alternative of the same recipe.

Widths and kernel sizes follow the authors' Chainer code (pfnet-research/tgan); the paper's
settings are the defaults (16 frames of 64 x 64). 32 x 32 drops one up/down-sampling stage.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from genmm.losses import WGANLoss


def _stages(size: int) -> int:
    stages = int(round(math.log2(size / 4)))
    if size < 8 or 4 * 2**stages != size:
        raise ValueError(f"size must be 4 x a power of two (8, 16, 32, 64, 128), got {size}")
    return stages


class TemporalGenerator(nn.Module):
    """z_slow (B, 100) -> z_fast (B, frames, 100): 1-D transposed convolutions doubling the
    length from 1 (kernel 1 to 512 channels, then kernel 4 stride 2: 256, 128, 128, 100), tanh."""

    def __init__(self, slow_dim: int = 100, fast_dim: int = 100, frames: int = 16) -> None:
        super().__init__()
        doublings = int(round(math.log2(frames)))
        if frames < 2 or 2**doublings != frames:
            raise ValueError(f"TGAN's temporal generator makes 2^k frames, got {frames}")
        widths = [512, 256, 128] + [128] * max(0, doublings - 3)
        widths = widths[:doublings]
        layers: list[nn.Module] = [
            nn.ConvTranspose1d(slow_dim, widths[0], 1, 1, 0),
            nn.BatchNorm1d(widths[0]),
            nn.ReLU(inplace=True),
        ]
        for index in range(doublings):
            width_in = widths[index]
            if index == doublings - 1:
                layers += [nn.ConvTranspose1d(width_in, fast_dim, 4, 2, 1), nn.Tanh()]
            else:
                width_out = widths[index + 1]
                layers += [
                    nn.ConvTranspose1d(width_in, width_out, 4, 2, 1),
                    nn.BatchNorm1d(width_out),
                    nn.ReLU(inplace=True),
                ]
        self.net = nn.Sequential(*layers)

    def forward(self, z_slow: Tensor) -> Tensor:  # (B, slow) -> (B, frames, fast)
        return self.net(z_slow[:, :, None]).transpose(1, 2)


class ImageGenerator(nn.Module):
    """(z_slow, z_fast) -> a frame: each through a linear layer to (width / 2, 4, 4), joined to
    (width, 4, 4), then transposed convolutions (4, stride 2) halving the width to the image
    size, batch norm and ReLU between, tanh at the end."""

    def __init__(
        self,
        slow_dim: int = 100,
        fast_dim: int = 100,
        size: int = 64,
        channels: int = 3,
        width: int = 512,
    ) -> None:
        super().__init__()
        stages = _stages(size)
        self.width = width
        self.slow = nn.Sequential(
            nn.Linear(slow_dim, width // 2 * 16), nn.BatchNorm1d(width // 2 * 16)
        )
        self.fast = nn.Sequential(
            nn.Linear(fast_dim, width // 2 * 16), nn.BatchNorm1d(width // 2 * 16)
        )
        layers: list[nn.Module] = [nn.ReLU(inplace=True)]
        width_in = width
        for index in range(stages):
            if index == stages - 1:
                layers += [nn.ConvTranspose2d(width_in, channels, 4, 2, 1), nn.Tanh()]
            else:
                layers += [
                    nn.ConvTranspose2d(width_in, width_in // 2, 4, 2, 1),
                    nn.BatchNorm2d(width_in // 2),
                    nn.ReLU(inplace=True),
                ]
                width_in //= 2
        self.net = nn.Sequential(*layers)

    def forward(self, z_slow: Tensor, z_fast: Tensor) -> Tensor:  # (N, 100) x2 -> (N, C, S, S)
        joined = torch.cat([self.slow(z_slow), self.fast(z_fast)], 1)
        return self.net(joined.view(-1, self.width, 4, 4))


class TGANGenerator(nn.Module):
    """TGAN's generator: z_slow (B, 100), uniform in [-1, 1] -> clips (B, C, T, H, W) in
    [-1, 1]. ``description`` (the data's) gives frames, size and channels when present."""

    def __init__(
        self,
        slow_dim: int = 100,
        fast_dim: int = 100,
        frames: int = 16,
        size: int = 64,
        channels: int = 3,
        width: int = 512,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        description = description or {}
        frames = int(description.get("frames", frames))
        size = int(description.get("size", size))
        channels = int(description.get("channels", channels))
        self.latent_dim, self.frames, self.size, self.channels = slow_dim, frames, size, channels
        self.temporal = TemporalGenerator(slow_dim, fast_dim, frames)
        self.image = ImageGenerator(slow_dim, fast_dim, size, channels, width)

    def sample_latent(self, n: int, device: torch.device | str) -> Tensor:
        """z_slow ~ U[-1, 1]^100 (sec. 3.1)."""
        return torch.rand(n, self.latent_dim, device=device) * 2 - 1

    def forward(self, z_slow: Tensor) -> Tensor:  # (B, 100) -> (B, C, T, H, W)
        batch = z_slow.shape[0]
        z_fast = self.temporal(z_slow)  # (B, T, 100)
        slow = z_slow[:, None, :].expand(-1, self.frames, -1).reshape(batch * self.frames, -1)
        frames = self.image(slow, z_fast.reshape(batch * self.frames, -1))  # (B*T, C, H, W)
        frames = frames.view(batch, self.frames, *frames.shape[1:])
        return frames.transpose(1, 2)  # (B, C, T, H, W)


class TGANDiscriminator(nn.Module):
    """Clips (B, C, T, H, W) -> one score each (B, 1): four 3-D convolutions (kernel 4, stride
    2, 64-128-256-512 channels; batch norm after the first; leaky ReLU 0.2), then one
    convolution over what remains of time and space."""

    def __init__(
        self,
        frames: int = 16,
        size: int = 64,
        channels: int = 3,
        width: int = 64,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        description = description or {}
        frames = int(description.get("frames", frames))
        size = int(description.get("size", size))
        channels = int(description.get("channels", channels))
        layers: list[nn.Module] = []
        width_in, length, side = channels, frames, size
        for index in range(4):
            width_out = width * 2**index
            stride = (2 if length >= 2 else 1, 2)
            layers.append(
                nn.Conv3d(
                    width_in,
                    width_out,
                    (4 if length >= 2 else 1, 4, 4),
                    (stride[0], 2, 2),
                    (1 if length >= 2 else 0, 1, 1),
                )
            )
            if index:
                layers.append(nn.BatchNorm3d(width_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            width_in, length, side = width_out, max(1, length // stride[0]), side // 2
        layers.append(nn.Conv3d(width_in, 1, (length, side, side)))
        self.net = nn.Sequential(*layers)

    def forward(self, clips: Tensor) -> Tensor:  # (B, C, T, H, W) -> (B, 1)
        return self.net(clips).flatten(1)


# ====================================================================== singular value clipping
@torch.no_grad()
def clip_singular_values(module: nn.Module, bound: float = 1.0) -> None:
    """Every weight of ``module`` with two or more dimensions, as the matrix (out, rest), gets
    its singular values clipped to ``bound``; every batch-norm gain gamma is clipped to
    [0.01 sigma, sigma] with sigma = sqrt(running_var + eps), the layer's normaliser (TGAN
    sec. 3.3, table 1)."""
    for submodule in module.modules():
        if isinstance(submodule, nn.modules.batchnorm._BatchNorm):
            if submodule.weight is not None and submodule.running_var is not None:
                sigma = (submodule.running_var + submodule.eps).sqrt()
                submodule.weight.copy_(
                    torch.maximum(torch.minimum(submodule.weight, sigma), 0.01 * sigma)
                )
            continue
        for parameter in submodule.parameters(recurse=False):
            if parameter.dim() < 2:
                continue
            if isinstance(submodule, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
                matrix = parameter.transpose(0, 1).reshape(parameter.shape[1], -1)
            else:
                matrix = parameter.reshape(parameter.shape[0], -1)
            u, s, vh = torch.linalg.svd(matrix.double(), full_matrices=False)
            if float(s.max()) <= bound:
                continue
            clipped = (u * s.clamp(max=bound)) @ vh
            if isinstance(submodule, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
                shape = (parameter.shape[1], parameter.shape[0], *parameter.shape[2:])
                parameter.copy_(clipped.reshape(shape).transpose(0, 1).to(parameter.dtype))
            else:
                parameter.copy_(clipped.reshape(parameter.shape).to(parameter.dtype))


class SVCWassersteinLoss(WGANLoss):
    """WGAN (Arjovsky et al. 2017) with TGAN's singular value clipping as the discriminator's
    constraint: every ``clip_every``-th discriminator update (5 in the paper) is followed by
    :func:`clip_singular_values`."""

    def __init__(self, clip_every: int = 5, bound: float = 1.0, weight: float = 1.0) -> None:
        super().__init__(clip=None, weight=weight)
        if clip_every < 1:
            raise ValueError(f"clip_every must be >= 1, got {clip_every}")
        self.clip_every, self.bound = clip_every, bound
        self.updates = 0

    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        self.updates += 1
        if self.updates % self.clip_every == 0:
            clip_singular_values(discriminator, self.bound)
