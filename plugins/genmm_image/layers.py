"""Small layers shared by the image models: DCGAN initialisation and minibatch standard
deviation (Karras et al. 2018, "Progressive Growing of GANs", section 3)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def dcgan_init(module: nn.Module) -> None:
    """Weights ~ N(0, 0.02); batch-norm scales ~ N(1, 0.02), shifts 0 (Radford et al. 2015,
    section 4: "All weights were initialized from a zero-centered Normal distribution with
    standard deviation 0.02")."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


class MinibatchStd(nn.Module):
    """Appends one feature map: the standard deviation of each feature and position over a
    group of ``group_size`` samples, averaged (Karras et al. 2018, sec. 3). A remedy against
    mode collapse: D sees how varied a batch is. ``(B, C, H, W) -> (B, C + 1, H, W)``."""

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, height, width = x.shape
        group = min(self.group_size, batch)
        if batch % group:
            group = 1
        if group == 1:  # no group to measure: the spread over the whole batch
            std = x.float().std(0, unbiased=False, keepdim=True).mean().expand(batch)
        else:
            grouped = x.float().view(group, batch // group, channels, height, width)
            std = (grouped.var(0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B/G,)
            std = std.repeat(group)  # sample i belongs to group i % (B/G)
        feature = std.to(x.dtype).view(batch, 1, 1, 1).expand(batch, 1, height, width)
        return torch.cat([x, feature], 1)


def maybe_spectral(layer: nn.Module, enabled: bool) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) when ``enabled``."""
    return nn.utils.parametrizations.spectral_norm(layer) if enabled else layer
