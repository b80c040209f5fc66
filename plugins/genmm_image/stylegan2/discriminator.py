"""StyleGAN2 residual discriminator (Karras et al. 2020, sec. 4.1, fig. 7c "residual nets"):
fromRGB at the input resolution, then per resolution two 3x3 convs (the second blurs and
strides by 2) plus a 1x1 down-sampling skip, summed and scaled by 1/sqrt(2). The 4x4 epilogue
has the minibatch standard deviation layer (Karras et al. 2018, ProGAN sec. 3, group size 4,
one feature), a 3x3 conv, an FC layer and the output logit. Equalized learning rate throughout.

Widths: ``channels(res) = min(channel_base // res, channel_max)`` as in the generator.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genmm_image.layers import from_description
from genmm_image.stylegan2.generator import channels_at
from genmm_image.stylegan2.layers import EqualConv2d, EqualLinear

INV_SQRT2 = 1.0 / math.sqrt(2.0)


class ResidualBlock(nn.Module):
    """(B, in, R, R) -> (B, out, R/2, R/2): conv3x3, conv3x3 down, + 1x1 down skip, / sqrt 2."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, down=True)
        self.skip = EqualConv2d(
            in_channels, out_channels, 1, bias=False, activation=False, down=True
        )

    def forward(self, x: Tensor) -> Tensor:
        skip = self.skip(x)
        x = self.conv1(self.conv0(x))
        return (skip + x) * INV_SQRT2


def minibatch_stddev(x: Tensor, group_size: int = 4, features: int = 1) -> Tensor:
    """Append the std over groups of ``group_size`` samples: (B, C, H, W) -> (B, C + F, H, W)."""
    batch, channels, height, width = x.shape
    group = min(group_size, batch)
    if batch % group:
        group = math.gcd(batch, group)
    y = x.reshape(group, -1, features, channels // features, height, width)  # (G, M, F, c, H, W)
    y = (y - y.mean(0)).square().mean(0)  # variance over the group: (M, F, c, H, W)
    y = (y + 1e-8).sqrt().mean((2, 3, 4))  # (M, F)
    y = y.reshape(-1, features, 1, 1).repeat(group, 1, height, width)  # (B, F, H, W)
    return torch.cat([x, y], 1)


class StyleGAN2Discriminator(nn.Module):
    """Image (B, channels, R, R) -> logit (B, 1); ``resolution`` and ``channels`` left out come
    from the data's description (else 32 and 3)."""

    def __init__(
        self,
        resolution: int | None = None,
        channels: int | None = None,
        channel_base: int = 32768,
        channel_max: int = 512,
        mbstd_group: int = 4,
        mbstd_features: int = 1,
        description: dict | None = None,
    ) -> None:
        super().__init__()
        resolution = from_description(description, "image_size", resolution, 32, "resolution")
        channels = from_description(description, "channels", channels, 3, "channels")
        levels = int(math.log2(resolution))
        if 2**levels != resolution or resolution < 8:
            raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
        self.resolution, self.channels = resolution, channels
        self.mbstd_group, self.mbstd_features = mbstd_group, mbstd_features
        width = channels_at(resolution, channel_base, channel_max)
        self.from_rgb = EqualConv2d(channels, width, 1)
        blocks = []
        for res in [2**i for i in range(levels, 2, -1)]:  # R, R/2, ..., 8
            out_width = channels_at(res // 2, channel_base, channel_max)
            blocks.append(ResidualBlock(channels_at(res, channel_base, channel_max), out_width))
        self.blocks = nn.Sequential(*blocks)
        width4 = channels_at(4, channel_base, channel_max)
        self.conv = EqualConv2d(width4 + mbstd_features, width4, 3)
        self.fc = EqualLinear(width4 * 16, width4, activation=True)
        self.out = EqualLinear(width4, 1)

    def forward(self, image: Tensor) -> Tensor:
        image = image.contiguous(memory_format=torch.channels_last)  # NHWC: faster CPU convs
        x = self.from_rgb(image)  # (B, C_R, R, R)
        x = self.blocks(x)  # (B, C_4, 4, 4)
        x = minibatch_stddev(x, self.mbstd_group, self.mbstd_features)
        x = self.conv(x)  # (B, C_4, 4, 4)
        return self.out(self.fc(x.flatten(1)))  # (B, 1)
